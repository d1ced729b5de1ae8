"""Activation checks, status changes and the why-not-sending line."""

import pytest
from django.core.management import call_command

from example_project.crm.models import Contact
from massmail import api
from massmail.models import Delivery, MassmailSettings
from massmail.sending.control import ActivationError

from .conftest import update_massmail_settings
from .engine import contacts, send_all, start_mailing
from .factories import MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailing(always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 2)
    return api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                              recipients=[Contact.objects.filter(owner=manager)])


def test_new_mailing_is_paused_and_says_so(mailing):
    assert mailing.status == "paused"
    assert api.why_not_sending(mailing) == [
        "The mailing is paused: set it to Active to start sending."]


def test_pause_stops_and_activate_resumes(smtp_server, mailing):
    api.activate(mailing)
    api.pause(mailing)
    send_all()
    assert smtp_server.messages == []
    api.activate(mailing)
    assert api.why_not_sending(mailing) == []
    send_all()
    assert len(smtp_server.messages) == 2
    mailing.refresh_from_db()
    assert api.why_not_sending(mailing) == ["The mailing has finished."]
    with pytest.raises(ActivationError, match="finished"):
        api.activate(mailing)


def test_interrupted_mailing_sends_nothing(smtp_server, mailing):
    api.activate(mailing)
    api.interrupt(mailing)
    send_all()
    assert smtp_server.messages == []
    assert api.why_not_sending(mailing) == ["The mailing was interrupted."]


def test_activation_refused_without_usable_account(always_open):
    manager = UserFactory()
    mailing = MailingFactory(owner=manager)
    with pytest.raises(ActivationError, match="no usable email account"):
        api.activate(mailing)
    mailing.refresh_from_db()
    assert mailing.status == "paused"


def test_activation_warns_about_the_former_default_unsubscribe_page(mailing):
    update_massmail_settings(unsubscribe_url=MassmailSettings.DEFAULT_UNSUBSCRIBE_URL)
    warnings = api.activate(mailing)
    assert any("unsubscribing is still the default" in w for w in warnings)
    update_massmail_settings(unsubscribe_url="https://shop.example/unsubscribed")
    api.pause(mailing)
    assert api.activate(mailing) == []


def test_no_usable_account_is_explained(mailing, account_on):
    api.activate(mailing)
    mailing.owner.massmail_accounts.update(massmail=False)
    assert api.why_not_sending(mailing) == ["No usable email account for mailings."]


def test_resend_failed_and_unknown_rows_only(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    failed, unknown, sent = contacts(manager, 3)
    smtp_server.handler.rcpt_replies[failed.email] = ["554 5.7.1 rejected"]
    mailing = start_mailing(manager)
    send_all()
    Delivery.objects.filter(email=unknown.email).update(status="unknown")
    mailing.refresh_from_db()
    assert mailing.status == "done"

    assert api.resend(mailing.deliveries.all()) == 2
    mailing.refresh_from_db()
    assert mailing.status == "active"
    send_all()
    assert sorted(smtp_server.handler.recipients()) == sorted(
        [failed.email, unknown.email, sent.email, unknown.email])


def test_massmail_send_command_runs_the_engine_in_process(smtp_server, mailing):
    api.activate(mailing)
    call_command("massmail_send", "--once")
    assert len(smtp_server.messages) == 2
    call_command("massmail_send")  # returns once nothing is left to send
    mailing.refresh_from_db()
    assert mailing.status == "done"
