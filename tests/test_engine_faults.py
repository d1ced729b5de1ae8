"""Faults of real servers, each blamed on the right party (issue: full mailboxes, policy
refusals, IDN recipients, broken relays, slow servers, errors in a batch).

Every test talks to a real SMTP server (aiosmtpd, scripted like a provider, or a raw
socket server where aiosmtpd cannot misbehave enough) through the real engine.
"""

import datetime
import logging
import socket
import threading
import time

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import DatabaseError, connection
from django.test import override_settings
from django.utils import timezone

from massmail import api
from massmail.models import Delivery, EmailAccount, Mailing, Suppression
from massmail.sending import batch, control, states
from massmail.sending.replies import Blame
from massmail.sending.smtp import Connection

from .engine import contacts, send_all, start_mailing
from .factories import ContactFactory, EmailAccountFactory, UserFactory
from .smtp import SMTPServer

pytestmark = pytest.mark.django_db


def massmail(**values):
    return override_settings(MASSMAIL={**settings.MASSMAIL, **values})


def statuses(mailing):
    return dict(mailing.deliveries.values_list("email", "status"))


@pytest.mark.parametrize("where, reply", [
    ("rcpt", "452 4.2.2 The email account that you tried to reach is over quota. Please "
             "direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp"),
    ("data", "552 5.2.2 Mailbox quota exceeded"),
])
def test_a_full_mailbox_is_retried_then_fails_and_never_stalls_the_account(
        smtp_server, always_open, account_on, where, reply):
    manager = UserFactory()
    account = account_on(manager)
    people = contacts(manager, 6)
    full = people[0].email
    replies = smtp_server.handler.rcpt_replies if where == "rcpt" else smtp_server.handler.data_replies
    replies[full] = [reply] * 10
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        mailing = start_mailing(manager)
        for _ in range(6):  # two simulated days
            send_all()
            traveller.shift(datetime.timedelta(hours=8))
    account.refresh_from_db()
    assert account.paused_until is None and account.disabled_at is None
    assert sorted(smtp_server.handler.recipients()) == sorted(p.email for p in people[1:])
    delivery = mailing.deliveries.get(email=full)
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert not Suppression.objects.exists()
    assert Mailing.objects.get(pk=mailing.pk).status == "done"


@pytest.mark.parametrize("where", ["rcpt", "data"])
def test_policy_refusals_fail_their_row_and_a_streak_disables_the_account(
        smtp_server, always_open, account_on, where):
    manager = UserFactory(email="anna@example.com")
    account = account_on(manager)
    people = contacts(manager, 4)
    refusal = ("550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n"
               "550 5.7.26 sender and Gmail users, and has been blocked.")
    replies = smtp_server.handler.rcpt_replies if where == "rcpt" else smtp_server.handler.data_replies
    replies[people[0].email] = [refusal]
    with massmail(POLICY_FAILURE_LIMIT=3):
        mailing = start_mailing(manager)
        send_all()
        account.refresh_from_db()
        assert statuses(mailing)[people[0].email] == "failed"
        assert account.paused_until is None and account.policy_streak == 0  # a success reset it
        for person in people[1:]:
            replies[person.email] = [refusal]
        second = start_mailing(manager, [type(people[0]).objects.filter(pk__in=[
            p.pk for p in people[1:]])], skip_already_received=False)
        send_all()
    account.refresh_from_db()
    assert account.disabled_at is not None and "refused by policy" in account.disabled_reason
    assert set(statuses(second).values()) == {"failed"}
    assert [m.to for m in mail.outbox if "disabled" in m.subject] == [["anna@example.com"]]


def test_an_idn_domain_goes_out_as_its_a_label(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contact = ContactFactory(owner=manager, email="user@bücher.example")
    mailing = start_mailing(manager)
    send_all()
    assert smtp_server.handler.recipients() == ["user@xn--bcher-kva.example"]
    assert mailing.deliveries.get().email == "user@bücher.example" == contact.email
    assert statuses(mailing) == {contact.email: "sent"}


@pytest.mark.parametrize("offered", [True, False])
def test_a_non_ascii_local_part_needs_smtputf8(always_open, db, offered):
    server = SMTPServer(smtputf8=offered).start()
    try:
        manager = UserFactory()
        EmailAccountFactory(owner=manager, smtp_host=server.host, smtp_port=server.port)
        contacts(manager, 2)
        ContactFactory(owner=manager, email="jöran@example.org")
        mailing = start_mailing(manager)
        send_all()
    finally:
        server.stop()
    delivery = mailing.deliveries.get(email="jöran@example.org")
    if offered:
        assert delivery.status == "sent" and "jöran@example.org" in server.handler.recipients()
    else:
        assert (delivery.status, delivery.skip_reason, delivery.attempts) == (
            "skipped", "needs_smtputf8", 0)
    assert mailing.deliveries.filter(status="sent").count() == (3 if offered else 2)


def test_a_relay_that_resets_every_connection_trips_the_breaker(smtp_server, always_open,
                                                                 account_on):
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 20)
    smtp_server.handler.drop_at, smtp_server.handler.drop_after = "data", 0
    smtp_server.handler.drop_always = True
    mailing = start_mailing(manager)
    send_all()
    counts = dict(control.counts(mailing))
    assert counts["unknown"] == 5 and counts["pending"] == 15
    account.refresh_from_db()
    assert account.paused_until and "Circuit breaker" in account.last_error
    assert Mailing.objects.get(pk=mailing.pk).status == "active"
    assert any("Circuit breaker" in reason for reason in api.why_not_sending(mailing))


def test_the_breaker_counts_only_failures_in_a_row(smtp_server, always_open, account_on):
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 12)
    handler = smtp_server.handler
    handler.drop_at = "data"

    def hang_up_on_every_other():
        handler.drop_after = len(handler.messages)  # the next message is swallowed

    handler.on_message = hang_up_on_every_other
    mailing = start_mailing(manager)
    send_all()
    account.refresh_from_db()
    assert not account.paused_until
    assert control.counts(mailing)["pending"] == 0


class TricklingServer:
    """Accepts MAIL, RCPT and DATA, then answers the end of the data with "250-" lines
    every 0.2 s, never finishing: a server a socket timeout alone cannot bound."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sessions = 0
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                sock, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self.sessions += 1
            threading.Thread(target=self.session, args=(sock,), daemon=True).start()

    def session(self, sock):
        lines = sock.makefile("rb")
        sock.sendall(b"220 slow.example ESMTP\r\n")
        try:
            for line in lines:
                command = line.strip().upper()
                if command.startswith(b"EHLO"):
                    sock.sendall(b"250-slow.example\r\n250 8BITMIME\r\n")
                elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                    sock.sendall(b"250 OK\r\n")
                elif command == b"DATA":
                    sock.sendall(b"354 go ahead\r\n")
                elif command == b".":
                    while not self.stop.is_set():
                        sock.sendall(b"250-still thinking\r\n")
                        time.sleep(0.2)
                elif command == b"QUIT":
                    sock.sendall(b"221 bye\r\n")
                    break
        except OSError:
            pass
        finally:
            sock.close()

    def close(self):
        self.stop.set()
        self.listener.close()


def test_a_trickling_server_is_bounded_by_the_transaction_deadline(db):
    server = TricklingServer()
    account = EmailAccountFactory(smtp_host="127.0.0.1", smtp_port=server.port, smtp_user="",
                                  use_tls=False)
    try:
        with massmail(SMTP_TRANSACTION_SECONDS=1):
            connection_ = Connection(account, timeout=5)
            started = time.monotonic()
            verdict = connection_.send(account.from_email, "x@example.org", b"Subject: x\r\n\r\nhi\r\n")
            elapsed = time.monotonic() - started
            connection_.close()
    finally:
        server.close()
    assert verdict.blame == Blame.UNKNOWN
    assert elapsed < 3  # the 1 s deadline ended it, not the 5 s socket timeout nor the server


@pytest.mark.django_db(transaction=True)
def test_a_running_batch_renews_its_leases_so_no_second_session_opens(
        smtp_server, always_open, account_on, postgres):
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 8)
    handler = smtp_server.handler
    handler.on_message = lambda: time.sleep(0.5)  # 4 s for the batch, leases of 1.5 s
    mailing = start_mailing(manager)
    from massmail.sending.dispatch import dispatch

    with massmail(LEASE_SECONDS=1.5, SENDING_GROUP=2):
        ((mailing_id, account_id),) = dispatch()
        results = []
        worker = threading.Thread(target=lambda: (results.append(batch.send_batch(mailing_id,
                                                                                  account_id)),
                                                  connection.close()))
        worker.start()
        deadline = time.monotonic() + 30
        while not (handler.connections or time.monotonic() > deadline):
            time.sleep(0.01)
        second = []
        while worker.is_alive():
            second.append(batch.send_batch(mailing_id, account_id).counts)
            time.sleep(0.2)
        worker.join()
    assert results[0].counts["sent"] == 8
    assert all(not counts for counts in second)  # never got the account
    assert handler.connections == 1
    assert set(statuses(mailing).values()) == {"sent"}
    assert EmailAccount.objects.get(pk=account.pk).batch_lease_owner == ""


def test_an_unexpected_error_is_logged_and_the_next_run_goes_on(
        smtp_server, always_open, account_on, monkeypatch, caplog):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 5)
    mailing = start_mailing(manager)
    real_record = batch._Sender.record

    def broken(self, delivery, verdict):
        raise RuntimeError("a bug in recording")

    monkeypatch.setattr(batch._Sender, "record", broken)
    with caplog.at_level(logging.ERROR, logger="massmail.sending.batch"):
        send_all()
    assert "a bug in recording" in caplog.text and "Traceback" in caplog.text
    mailing.refresh_from_db()
    assert mailing.status == "active" and not mailing.status_reason
    first = smtp_server.handler.recipients()
    assert len(first) == 1 and statuses(mailing)[first[0]] == "unknown"
    assert set(statuses(mailing).values()) == {"unknown", "pending"}
    monkeypatch.setattr(batch._Sender, "record", real_record)
    send_all()
    assert sorted(smtp_server.handler.recipients()) == sorted(p.email for p in people)
    assert Mailing.objects.get(pk=mailing.pk).status == "done"


def test_a_database_error_never_interrupts_the_mailing(smtp_server, always_open, account_on,
                                                        monkeypatch):
    from django.db import OperationalError

    manager = UserFactory()
    account_on(manager)
    contacts(manager, 3)
    mailing = start_mailing(manager)

    def lost(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("massmail.rendering.prepare", lost)
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == "active"
    monkeypatch.undo()
    send_all()
    assert set(statuses(mailing).values()) == {"sent"}


def test_a_render_failure_interrupts_with_its_reason_in_why_not_sending(
        smtp_server, always_open, account_on, monkeypatch):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 2)
    mailing = start_mailing(manager)

    def broken(message):
        raise ValueError("the template is broken")

    monkeypatch.setattr("massmail.rendering.prepare", broken)
    send_all()
    mailing.refresh_from_db()
    assert mailing.status == "interrupted" and "the template is broken" in mailing.status_reason
    assert "the template is broken" in api.why_not_sending(mailing)[0]
    assert set(statuses(mailing).values()) == {"pending"}


def test_sent_rows_are_recorded_only_for_their_own_batch(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 1)
    mailing = start_mailing(manager)
    delivery = mailing.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(status="sending", lease_owner="other")
    states.write_together([states.mark_sent([(250, "ok", timezone.now(), delivery.pk)], "mine")])
    assert Delivery.objects.get(pk=delivery.pk).status == "sending"


@pytest.mark.django_db(transaction=True)
def test_the_group_write_is_one_transaction(smtp_server, always_open, account_on):
    """Marking a group and recording the held successes commit together or not at all,
    also when they go to the server as one multi-statement query."""
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 2)
    mailing = start_mailing(manager)
    first, second = mailing.deliveries.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(status="sending", lease_owner="mine")
    Delivery.objects.filter(pk=second.pk).update(status="claimed", lease_owner="mine")
    broken = (f"UPDATE {Delivery._meta.db_table} SET attempts = 1 WHERE no_such_column = %s", [1])
    with pytest.raises(DatabaseError):
        states.write_together([
            states.mark_sending([(second.pk, "<m@x>")], "mine", first.account_id, timezone.now()),
            states.mark_sent([(250, "ok", timezone.now(), first.pk)], "mine"), broken])
    assert dict(mailing.deliveries.values_list("pk", "status")) == {
        first.pk: "sending", second.pk: "claimed"}
    rows = states.write_together([
        states.mark_sending([(second.pk, "<m@x>")], "mine", first.account_id, timezone.now()),
        states.mark_sent([(250, "ok", timezone.now(), first.pk)], "mine")])
    assert rows == [(second.pk,)]
    assert dict(mailing.deliveries.values_list("pk", "status")) == {
        first.pk: "sent", second.pk: "sending"}


def test_dispatch_queues_one_batch_per_pair_while_workers_are_backlogged(
        smtp_server, always_open, account_on, monkeypatch):
    from massmail import tasks

    manager = UserFactory()
    account_on(manager)
    contacts(manager, 3)
    queued = []
    monkeypatch.setattr(tasks.send_batch, "apply_async", lambda args, queue: queued.append(args))
    with massmail(DISPATCH_ON_ACTIVATE=False):
        mailing = start_mailing(manager)
        for _ in range(3):
            tasks.dispatch()
    assert len(queued) == 1
    batch.send_batch(*queued[0])  # the batch starts: its ticket is handed back
    assert statuses(mailing) == dict.fromkeys(statuses(mailing), "sent")


def test_retries_count_toward_the_hourly_limit(smtp_server, always_open, account_on):
    manager = UserFactory()
    account = account_on(manager, hourly_limit=3)
    first, *others = contacts(manager, 4)
    smtp_server.handler.rcpt_replies[first.email] = ["451 4.3.0 Busy", "451 4.3.0 Busy"]
    with massmail(RETRY_DELAYS=[1]), time_machine.travel(timezone.now(), tick=False) as traveller:
        mailing = start_mailing(manager)
        for _ in range(4):
            send_all()
            traveller.shift(datetime.timedelta(seconds=2))
    attempts = sum(mailing.deliveries.values_list("attempts", flat=True))
    assert attempts == 3  # three attempts in the hour, whichever rows they were
    assert control.counts(mailing)["pending"] >= 1
    assert account.pk


def test_a_session_that_fails_while_opening_closes_its_socket(db):
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def refuse_ehlo():
        sock, _address = listener.accept()
        accepted.append(sock)
        sock.sendall(b"220 hi\r\n")
        sock.recv(100)
        sock.sendall(b"554 5.7.1 go away\r\n")
        sock.settimeout(5)
        accepted.append(sock.recv(100))  # b"" once the client closed its socket

    thread = threading.Thread(target=refuse_ehlo)
    thread.start()
    account = EmailAccountFactory(smtp_host="127.0.0.1", smtp_port=listener.getsockname()[1])
    from massmail.sending.transport import AccountError

    with pytest.raises(AccountError):
        Connection(account, timeout=5).open()
    thread.join(timeout=10)
    listener.close()
    assert accepted[-1] == b""
