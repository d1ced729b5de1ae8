"""The transport seam: the engine sends through whatever MASSMAIL["TRANSPORT"] names, and
the in-memory transport keeps emails and plays scripted replies like a server would."""

import pytest
from django.conf import settings
from django.test import override_settings

from massmail.models import Suppression
from massmail.sending.transport import InMemoryTransport

from .engine import contacts, send_all, start_mailing
from .factories import EmailAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_memory():
    InMemoryTransport.reset()
    with override_settings(MASSMAIL={**settings.MASSMAIL,
                                     "TRANSPORT": "massmail.sending.transport.InMemoryTransport"}):
        yield InMemoryTransport
    InMemoryTransport.reset()


def test_the_engine_sends_through_the_configured_transport(in_memory, always_open):
    manager = UserFactory()
    account = EmailAccountFactory(owner=manager, smtp_host="unreachable.invalid")
    gone, *others = contacts(manager, 3)
    in_memory.replies[gone.email] = [("rcpt", 550, "5.1.1 User unknown")]
    mailing = start_mailing(manager)
    send_all()
    assert sorted(to for _from, to, _data in in_memory.outbox) == sorted(c.email for c in others)
    assert {sender for sender, _to, _data in in_memory.outbox} == {account.from_email}
    assert dict(mailing.deliveries.values_list("email", "status")) == {
        gone.email: "failed", **{c.email: "sent" for c in others}}
    assert Suppression.objects.filter(email=gone.email, reason="bounced").exists()
