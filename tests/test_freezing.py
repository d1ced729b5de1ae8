"""A message cannot change under a mailing that is sending or has sent (freezing.py)."""

import pytest
from django.core.exceptions import ValidationError

from massmail.freezing import MessageFrozen
from massmail.models import Attachment

from .engine import contacts, send_all, start_mailing
from .factories import MailingFactory, MessageFactory, SignatureFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_message_of_a_paused_unsent_mailing_may_still_change():
    mailing = MailingFactory()
    message = mailing.message
    message.subject = "Changed {{ first_name }}"
    message.full_clean()
    message.save()


def test_an_active_mailing_freezes_its_message_and_signature(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 3)
    signature = SignatureFactory(owner=manager)
    message = MessageFactory(owner=manager, signature=signature)
    mailing = start_mailing(manager, message=message)
    message.refresh_from_db()
    message.content = message.content.replace("Our news.", "Other news.")
    with pytest.raises(ValidationError, match="Copy the message"):
        message.full_clean()
    with pytest.raises(MessageFrozen):
        message.save()
    signature.content = "<p>Someone else</p>"
    with pytest.raises(MessageFrozen):
        signature.save()
    with pytest.raises(MessageFrozen):
        Attachment.objects.create(message=message, file="massmail/x.txt")
    message.refresh_from_db()
    message.save()  # saving without a change is harmless
    send_all()
    bodies = {m.data for m in smtp_server.messages}
    assert all(b"Our news." in body for body in bodies) and len(bodies) == 3
    assert mailing.deliveries.filter(status="sent").count() == 3


def test_the_admin_shows_a_frozen_message_read_only(smtp_server, always_open, account_on, client):
    from django.urls import reverse

    from .conftest import make_manager

    anna = make_manager("anna")
    account_on(anna)
    contacts(anna, 1)
    message = MessageFactory(owner=anna)
    start_mailing(anna, message=message)
    client.force_login(anna)
    page = client.get(reverse("admin:massmail_message_change", args=[message.pk])).content.decode()
    assert 'name="content"' not in page and "Our news." in page
