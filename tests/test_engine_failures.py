"""What SMTP replies and broken connections do: retries, bounces, disabled accounts,
quota pauses; nothing lost and nothing sent twice."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from massmail import api
from massmail.models import EmailAccount, Suppression

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory
from .smtp import free_port

pytestmark = pytest.mark.django_db


def statuses(mailing):
    return dict(mailing.deliveries.values_list("email", "status"))


@pytest.mark.parametrize("reply", ["450 4.7.1 Greylisted, try again later", "451 4.3.0 Temporary failure"])
def test_temporary_replies_are_retried_then_sent(smtp_server, always_open, account_on, reply):
    manager = UserFactory()
    account_on(manager)
    (contact,) = contacts(manager, 1)
    smtp_server.handler.rcpt_replies[contact.email] = [reply, reply]
    now = timezone.now()
    with time_machine.travel(now, tick=False) as traveller:
        mailing = start_mailing(manager)
        send_all()
        delivery = mailing.deliveries.get()
        assert (delivery.status, delivery.attempts, delivery.smtp_code) == (
            "pending", 1, int(reply[:3]))
        assert "next attempt" in api.why_not_sending(mailing)[0]
        traveller.shift(datetime.timedelta(seconds=301))
        send_all()
        assert mailing.deliveries.get().attempts == 2
        traveller.shift(datetime.timedelta(hours=1))
        send_all()
    delivery = mailing.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert smtp_server.handler.recipients() == [contact.email]


def test_temporary_failures_give_up_after_max_attempts(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    (contact,) = contacts(manager, 1)
    smtp_server.handler.rcpt_replies[contact.email] = ["451 4.3.0 Busy"] * 10
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        mailing = start_mailing(manager)
        for _ in range(6):
            send_all()
            traveller.shift(datetime.timedelta(hours=3))
    delivery = mailing.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    mailing.refresh_from_db()
    assert mailing.status == "done"


def test_unknown_user_fails_and_is_suppressed(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    bad, good = contacts(manager, 2)
    smtp_server.handler.rcpt_replies[bad.email] = ["550 5.1.1 User unknown"]
    mailing = start_mailing(manager)
    send_all()
    assert statuses(mailing) == {bad.email: "failed", good.email: "sent"}
    suppression = Suppression.objects.get(email=bad.email)
    assert (suppression.reason, suppression.mailing) == ("bounced", mailing)
    assert mailing.deliveries.get(email=bad.email).smtp_reply == "5.1.1 User unknown"


def test_other_permanent_failure_is_not_suppressed(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    (contact,) = contacts(manager, 1)
    smtp_server.handler.rcpt_replies[contact.email] = ["554 5.7.1 Message rejected as spam"]
    mailing = start_mailing(manager)
    send_all()
    assert statuses(mailing) == {contact.email: "failed"}
    assert not Suppression.objects.exists()


def test_wrong_password_disables_the_account_and_rows_wait(smtp_server, always_open, account_on):
    manager = UserFactory(email="anna@example.com")
    account = account_on(manager, password="wrong")
    smtp_server.authenticator.password = "right"
    contacts(manager, 3)
    mailing = start_mailing(manager)
    send_all()

    account.refresh_from_db()
    assert account.disabled_at is not None
    assert "535" in account.disabled_reason
    assert set(statuses(mailing).values()) == {"pending"}
    assert mailing.deliveries.filter(attempts=0).count() == 3
    assert [m.to for m in mail.outbox] == [["anna@example.com"]]
    assert "disabled" in mail.outbox[0].subject
    reasons = api.why_not_sending(mailing)
    assert any("disabled" in r and "535" in r for r in reasons)


def test_rows_move_to_another_account_when_one_is_disabled(smtp_server, always_open, account_on):
    manager = UserFactory()
    broken = account_on(manager, password="wrong")
    smtp_server.authenticator.password = "right"
    contacts(manager, 4)
    mailing = start_mailing(manager)
    send_all()
    working = account_on(manager, password="right")
    send_all()
    assert set(statuses(mailing).values()) == {"sent"}
    assert {m.mail_from for m in smtp_server.messages} == {working.from_email}
    assert EmailAccount.objects.get(pk=broken.pk).disabled_at


def test_dead_server_pauses_the_account_and_loses_nothing(always_open, db):
    from .factories import EmailAccountFactory

    manager = UserFactory()
    account = EmailAccountFactory(owner=manager, smtp_port=free_port())
    contacts(manager, 2)
    mailing = start_mailing(manager)
    send_all()
    account.refresh_from_db()
    assert account.paused_until > timezone.now()
    assert "Cannot connect" in account.last_error
    assert account.disabled_at is None
    assert set(statuses(mailing).values()) == {"pending"}
    assert mailing.deliveries.filter(attempts=0, attempted_at=None).count() == 2
    assert any("paused until" in r for r in api.why_not_sending(mailing))


def test_quota_reply_pauses_the_account_not_the_recipient(smtp_server, always_open, account_on):
    manager = UserFactory()
    account = account_on(manager)
    first, second = contacts(manager, 2)
    smtp_server.handler.rcpt_replies[first.email] = [
        "550 5.4.5 Daily user sending quota exceeded"]
    mailing = start_mailing(manager)
    send_all()
    account.refresh_from_db()
    assert account.paused_until is not None and "quota" in account.last_error
    assert set(statuses(mailing).values()) == {"pending"}
    assert not Suppression.objects.exists()
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        send_all()
    assert set(statuses(mailing).values()) == {"sent"}


def test_dropped_connection_loses_nothing_and_duplicates_nothing(smtp_server, always_open,
                                                                 account_on):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 6)
    smtp_server.handler.drop_after = 2
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        mailing = start_mailing(manager)
        send_all()
        assert mailing.deliveries.filter(status="sent").count() == 5
        traveller.shift(datetime.timedelta(minutes=10))
        send_all()
    assert sorted(smtp_server.handler.recipients()) == sorted(c.email for c in people)
    assert set(statuses(mailing).values()) == {"sent"}
    assert smtp_server.handler.connections >= 2
    mailing.refresh_from_db()
    assert mailing.status == "done"


def test_hang_up_after_the_data_makes_the_row_unknown_and_never_resends_it(
        smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 4)
    smtp_server.handler.drop_after, smtp_server.handler.drop_at = 1, "data"
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        mailing = start_mailing(manager)
        send_all()
        traveller.shift(datetime.timedelta(hours=3))
        send_all()
    (swallowed,) = smtp_server.handler.swallowed
    unknown = mailing.deliveries.get(status="unknown")
    assert [unknown.email] == swallowed.rcpt_tos
    assert "may have been delivered" in unknown.smtp_reply
    assert sorted(smtp_server.handler.recipients()) == sorted(
        c.email for c in people if c.email != unknown.email)
    mailing.refresh_from_db()
    assert mailing.status == "done"


def test_a_refused_sender_pauses_the_account_and_blames_no_recipient(smtp_server, always_open,
                                                                      account_on):
    manager = UserFactory()
    account = account_on(manager)
    first, second = contacts(manager, 2)
    for person in (first, second):  # whichever is sent first
        smtp_server.handler.rcpt_replies[person.email] = [
            "553 5.7.1 <x@sender.example>: Sender address rejected: not owned by user bob"]
    mailing = start_mailing(manager)
    send_all()
    account.refresh_from_db()
    assert "Sender address rejected" in account.last_error and account.paused_until
    assert set(statuses(mailing).values()) == {"pending"}
    assert mailing.deliveries.filter(attempts=0).count() == 2
    assert not Suppression.objects.exists()
    assert any("refused the sender" in r for r in api.why_not_sending(mailing))
