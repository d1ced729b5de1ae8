"""Claims, leases and completion: at most once, with the outcome recorded."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from massmail.models import Delivery, Mailing
from massmail.sending import states as claims

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_expired_claim_returns_to_pending_and_expired_send_becomes_unknown(
        smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 3)
    mailing = start_mailing(manager)
    claimed, sending, _ = mailing.deliveries.order_by("pk")
    past = timezone.now() - datetime.timedelta(seconds=1)
    Delivery.objects.filter(pk=claimed.pk).update(status="claimed", lease_until=past)
    Delivery.objects.filter(pk=sending.pk).update(status="sending", lease_until=past,
                                                  message_id="<x@sender.example>")

    assert claims.expire(timezone.now()) == (1, 1)
    send_all()

    assert mailing.deliveries.get(pk=claimed.pk).status == "sent"
    unknown = mailing.deliveries.get(pk=sending.pk)
    assert unknown.status == "unknown"
    assert unknown.email not in smtp_server.handler.recipients()
    assert len(smtp_server.messages) == 2


def test_live_claims_of_another_worker_are_left_alone(smtp_server, always_open, account_on):
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 2)
    mailing = start_mailing(manager)
    from massmail.models import MassmailSettings
    from massmail.sending.routing import route

    route(mailing, [account])
    ids = claims.claim(mailing, account, timezone.now(), MassmailSettings.load(), "other-worker")
    assert len(ids) == 2
    send_all()
    assert smtp_server.messages == []
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"claimed"}


def test_done_exactly_when_nothing_is_left_and_owner_notified(smtp_server, always_open,
                                                              account_on):
    manager = UserFactory(email="owner@example.com")
    account_on(manager)
    first, second = contacts(manager, 2)
    smtp_server.handler.rcpt_replies[second.email] = ["451 4.3.0 later"]
    mailing = start_mailing(manager)
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.ACTIVE  # one row waits for a retry
    assert mail.outbox == []
    Delivery.objects.filter(email=second.email).update(next_attempt_at=timezone.now())
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.DONE and mailing.finished_at
    assert len(mail.outbox) == 1
    assert "Sent: 2" in mail.outbox[0].body
    send_all()
    assert len(mail.outbox) == 1


def test_every_email_has_its_message_id_stored_before_sending(smtp_server, always_open,
                                                              account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 2)
    mailing = start_mailing(manager)
    send_all()
    stored = set(mailing.deliveries.values_list("message_id", flat=True))
    received = {m.message["Message-ID"] for m in smtp_server.messages}
    assert stored == received
    assert all(mid.endswith("@sender.example>") for mid in stored)


def test_a_message_that_cannot_render_interrupts_the_mailing_and_loses_nothing(
        smtp_server, always_open, account_on):
    manager = UserFactory(email="owner@example.com")
    account_on(manager)
    contacts(manager, 2)
    mailing = start_mailing(manager)
    # Saved around the form's validation, as a data migration or a script could.
    type(mailing.message).objects.filter(pk=mailing.message_id).update(
        content="{% load static %}{{ unsubscribe_url }}")
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.INTERRUPTED
    assert smtp_server.messages == []
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"pending"}
    assert [m.subject for m in mail.outbox] == [f"Mailing interrupted: {mailing}"]
    assert "cannot be rendered" in mail.outbox[0].body


def test_an_account_address_no_email_can_carry_interrupts_and_blames_no_recipient(
        smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager, from_email="news@a\u05d0.example")
    contacts(manager, 3)
    mailing = start_mailing(manager)
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.INTERRUPTED
    assert smtp_server.messages == []
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"pending"}
