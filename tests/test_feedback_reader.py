"""Reading feedback from a real Dovecot: a mailing is sent through the test SMTP
server, reports and replies quoting the Message-IDs actually sent are delivered into
the account's mailbox, and the reader records each outcome once, suppressing only
what must be, without changing anything in the mailbox."""

import re
import socket

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from example_project.crm.models import Reply as CrmReply
from massmail.feedback.reader import read_account
from massmail.models import Delivery, FeedbackReport, Reply, Suppression
from massmail.signals import reply_received

from .conftest import make_manager
from .engine import contacts, send_all, start_mailing
from .feedback import CORPUS_ACCOUNT, about, from_corpus
from .test_engine_celery import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def replies_received():
    calls = []

    def receiver(sender, delivery, message, **kwargs):
        calls.append((delivery.pk, message["Message-ID"]))

    reply_received.connect(receiver, dispatch_uid="test_feedback_receiver")
    yield calls
    reply_received.disconnect(dispatch_uid="test_feedback_receiver")


@pytest.fixture
def sent(smtp_server, dovecot, always_open, account_on):
    """A mailing of seven contacts, sent through an account whose mailbox is Dovecot's."""
    manager = make_manager("anna")
    account = account_on(manager, from_email=CORPUS_ACCOUNT, **dovecot.account_fields())
    contacts(manager, 7)
    mailing = start_mailing(manager)
    send_all()
    deliveries = list(mailing.deliveries.order_by("pk"))
    assert [d.status for d in deliveries] == ["sent"] * 7
    return account, mailing, deliveries


def deliver_feedback(dovecot, deliveries):
    """One message of each kind about the deliveries 0-6, plus noise."""
    hard, soft, complainer, away, replier, leaver, old_style = deliveries
    for data in (
        about("postfix_dsn_user_unknown.eml", hard, "nobody@example.org",
              "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"),
        about("postfix_dsn_delayed.eml", soft, "busy@greylist.example",
              "<e5f6a7b8c9d04e1f2a3b4c5d6e7f8a9b@sender.example>"),
        about("yahoo_arf_complaint.eml", complainer, "yara.complains@yahoo.com",
              "<c7d8e9f0a1b24c3d4e5f6a7b8c9d0e1f@sender.example>"),
        about("outlook_oof_en.eml", away, "bob.brown@contoso.com",
              "<2b3c4d5e6f7a48b9c0d1e2f3a4b5c6d7@sender.example>"),
        about("gmail_reply_top_posted.eml", replier, "ann.smith@gmail.com",
              "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"),
        about("reply_unsubscribe_first_line.eml", leaver, "ida.keller@example.org",
              "<1e2f3a4b5c6d47e8f9a0b1c2d3e4f5a6@sender.example>"),
        about("qmail_text_bounce.eml", old_style, "olduser@oldhost.example",
              "<9c8b7a6f5e4d43c2b1a0f9e8d7c6b5a4@sender.example>"),
        from_corpus("gmail_dsn_address_not_found.eml"),  # an address we never mailed
        from_corpus("other_garbage_mime.eml"),
        from_corpus("other_new_conversation.eml"),
        huge_message(),
    ):
        dovecot.deliver(data)


def huge_message(megabytes=3):
    line = b"A" * 76 + b"\r\n"
    return (b"From: someone@example.org\r\nTo: sales@sender.example\r\nSubject: big file\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + line * (megabytes * 1024 * 1024 // 78))


def outcome(delivery):
    delivery.refresh_from_db()
    return (delivery.bounce, delivery.bounce_status, bool(delivery.complained_at),
            bool(delivery.auto_replied_at), bool(delivery.replied_at))


def everything_recorded():
    return (sorted(Suppression.objects.values_list("email", "reason", "channel")),
            sorted(Delivery.objects.values_list("pk", "bounce", "bounce_status", "bounced_at",
                                                "complained_at", "auto_replied_at", "replied_at")),
            FeedbackReport.objects.count(), Reply.objects.count(), CrmReply.objects.count())


def admin_feedback_counts(client, mailing):
    """The mailing's feedback cell on the owner's mailing list."""
    client.force_login(mailing.owner)
    page = client.get(reverse("admin:massmail_mailing_changelist")).content.decode()
    row = page[page.index(f'?mailing__id__exact={mailing.pk}&amp;feedback='):]
    return re.findall(r'feedback=\w+">([^<]+)</a>', row[:2000])


def test_feedback_end_to_end(sent, dovecot, replies_received, capsys, client):
    account, mailing, deliveries = sent
    hard, soft, complainer, away, replier, leaver, old_style = deliveries
    deliver_feedback(dovecot, deliveries)
    before = dovecot.state()

    call_command("massmail_read_mailboxes", "--once")

    assert "bounce 3" in capsys.readouterr().out
    assert sorted(Suppression.objects.values_list("email", "reason", "channel")) == sorted([
        (hard.email, "bounced", "mailbox"), (old_style.email, "bounced", "mailbox"),
        (complainer.email, "complained", "mailbox"), (leaver.email, "reply", "mailbox"),
    ])
    assert outcome(hard) == ("hard", "5.1.1", False, False, False)
    assert outcome(old_style) == ("hard", "5.1.1", False, False, False)
    assert outcome(soft) == ("soft", "4.7.1", False, False, False)
    assert outcome(complainer) == ("", "", True, False, False)
    assert outcome(away) == ("", "", False, True, False)
    assert outcome(replier) == ("", "", False, False, True)
    assert outcome(leaver) == ("", "", False, False, True)
    assert sorted(replies_received) == sorted([
        (replier.pk, "<CAAnnSmith0001reply@mail.gmail.com>"), (leaver.pk, "<ida-0001@example.org>")])
    crm_reply = CrmReply.objects.get(contact_id=replier.recipient.object_id)
    assert "price list for 2027" in crm_reply.text
    report = FeedbackReport.objects.get(delivery=hard)
    assert "User unknown" in report.diagnostic and "Undelivered Mail" in report.raw
    assert admin_feedback_counts(client, mailing) == [
        "2 hard bounces", "1 soft bounce", "1 complaint", "1 auto-reply", "2 replies"]

    account.refresh_from_db()
    assert (account.feedback_error, account.feedback_last_uid) == ("", max(before[1]))
    assert dovecot.state() == before  # same UIDs, flags and sizes: nothing read or moved

    recorded = everything_recorded()
    call_command("massmail_read_mailboxes", "--once")  # nothing new
    # Reading everything again from scratch (as after a UIDVALIDITY change) changes nothing.
    type(account).objects.filter(pk=account.pk).update(feedback_uidvalidity=1, feedback_last_uid=0)
    assert read_account(account.pk)["bounce"] == 3
    assert everything_recorded() == recorded
    assert len(replies_received) == 2
    assert admin_feedback_counts(client, mailing)[-1] == "2 replies"
    assert dovecot.state() == before


def test_a_wrong_password_marks_feedback_failing_and_tells_the_owner_once(sent, dovecot):
    account, _mailing, _deliveries = sent
    mail.outbox.clear()
    type(account).objects.filter(pk=account.pk).update(imap_password="wrong")

    assert read_account(account.pk) is None
    assert read_account(account.pk) is None

    account.refresh_from_db()
    assert "refused the login" in account.feedback_error
    assert [message.subject for message in mail.outbox] == [
        f"Mailbox feedback failing: {account}"]
    assert account.feedback_lease_owner == ""
    # Sending is not affected.
    assert (account.disabled_at, account.paused_until) == (None, None)
    type(account).objects.filter(pk=account.pk).update(imap_password=dovecot.password)
    assert read_account(account.pk) is not None
    account.refresh_from_db()
    assert account.feedback_error == ""


def test_imap_login_falls_back_to_the_smtp_user_and_password(sent, dovecot):
    account, _mailing, _deliveries = sent
    type(account).objects.filter(pk=account.pk).update(imap_user="", imap_password="")
    account.refresh_from_db()
    account.smtp_user, account.password = dovecot.user, dovecot.password
    account.save()
    assert read_account(account.pk) is not None


def test_a_dropped_connection_keeps_progress_and_loses_nothing(sent, dovecot, monkeypatch):
    from imapclient import IMAPClient

    from massmail.feedback import mailbox

    account, _mailing, deliveries = sent
    deliver_feedback(dovecot, deliveries)
    monkeypatch.setattr(mailbox, "FETCH_CHUNK", 4)
    real_fetch = IMAPClient.fetch
    fetches = []

    def fetch_then_drop(client, *args, **kwargs):
        fetches.append(1)
        if len(fetches) == 2:
            client.socket().shutdown(socket.SHUT_RDWR)  # the connection drops before chunk 2
        return real_fetch(client, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "fetch", fetch_then_drop)
    assert read_account(account.pk) is None
    account.refresh_from_db()
    assert account.feedback_last_uid == 4 and account.feedback_error
    monkeypatch.setattr(IMAPClient, "fetch", real_fetch)
    read_account(account.pk)
    account.refresh_from_db()
    assert account.feedback_last_uid == 11 and account.feedback_error == ""
    assert Suppression.objects.count() == 4
    assert FeedbackReport.objects.count() == 4  # 2 hard, 1 soft, 1 complaint


def test_first_read_looks_back_feedback_lookback_days_only(sent, dovecot, settings):
    account, _mailing, deliveries = sent
    hard = deliveries[0]
    dovecot.deliver(about("postfix_dsn_user_unknown.eml", hard, "nobody@example.org",
                          "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"), days_old=40)
    settings.MASSMAIL = {**settings.MASSMAIL, "FEEDBACK_LOOKBACK_DAYS": 30}
    assert read_account(account.pk) == {}
    assert not Suppression.objects.exists()


def test_soft_bounces_suppress_after_three_in_fourteen_days(sent, dovecot):
    account, _mailing, deliveries = sent
    soft = deliveries[1]
    for number in range(3):
        dovecot.deliver(about("postfix_dsn_delayed.eml", soft, "busy@greylist.example",
                              "<e5f6a7b8c9d04e1f2a3b4c5d6e7f8a9b@sender.example>").replace(
            b"<20261112135002.9D8C7B6A5F@mx.sender.example>", f"<delay-{number}@mx>".encode()))
        read_account(account.pk)
        assert Suppression.objects.filter(email=soft.email).exists() == (number == 2)
    assert Suppression.objects.get(email=soft.email).reason == "bounced"


def test_another_reader_holding_the_account_is_left_alone(sent):
    import datetime

    from django.utils import timezone

    account, _mailing, _deliveries = sent
    type(account).objects.filter(pk=account.pk).update(
        feedback_lease_until=timezone.now() + datetime.timedelta(minutes=5), feedback_lease_owner="other")
    assert read_account(account.pk) is None


def test_a_reply_without_references_is_matched_by_its_sender(sent, dovecot, replies_received):
    account, _mailing, deliveries = sent
    replier = deliveries[2]
    dovecot.deliver(from_corpus("applemail_reply_subject_only.eml",
                                **{"eva.fischer@icloud.com": replier.email}))
    dovecot.deliver(from_corpus("other_new_conversation.eml",  # no reply subject: left alone
                                **{"q.blake@prospect.example": deliveries[3].email}))
    assert read_account(account.pk) == {"reply": 1, "other": 1}
    assert [pk for pk, _id in replies_received] == [replier.pk]
    assert outcome(deliveries[3]) == ("", "", False, False, False)


def test_a_failing_reply_receiver_loses_the_reply_but_not_the_mailbox(sent, dovecot):
    account, _mailing, deliveries = sent

    def broken(sender, **kwargs):
        raise RuntimeError("the CRM is down")

    reply_received.connect(broken, dispatch_uid="broken")
    try:
        dovecot.deliver(about("gmail_reply_top_posted.eml", deliveries[4], "ann.smith@gmail.com",
                              "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"))
        dovecot.deliver(about("postfix_dsn_user_unknown.eml", deliveries[0], "nobody@example.org",
                              "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"))
        assert read_account(account.pk)["bounce"] == 1
    finally:
        reply_received.disconnect(dispatch_uid="broken")
    assert not Reply.objects.exists() and not CrmReply.objects.exists()
    assert outcome(deliveries[4])[-1] is False
    assert Suppression.objects.filter(email=deliveries[0].email).exists()


def test_a_genuine_postfix_dsn_suppresses_the_bounced_address(
        postfix, smtp_server, dovecot, always_open, account_on):
    """The account's SMTP server is a real Postfix: it accepts the mailing, the
    recipient's server then refuses one address, and Postfix's own RFC 3464 report
    lands in the account's mailbox."""
    manager = make_manager("anna")
    account = account_on(manager, from_email=CORPUS_ACCOUNT, **dovecot.account_fields())
    # Postfix relays for 127.0.0.1 without a login.
    account.smtp_host, account.smtp_port, account.smtp_user, account.password = (
        postfix.host, postfix.port, "", "")
    account.save()
    gone, _fine = contacts(manager, 2)
    smtp_server.handler.rcpt_replies[gone.email] = [f"550 5.1.1 <{gone.email}>: User unknown"]
    mailing = start_mailing(manager)
    send_all()
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"sent"}
    try:
        wait_for(lambda: any((dovecot.maildir / "new").iterdir()), timeout=60)
    except AssertionError:
        raise AssertionError(postfix.log()) from None

    assert read_account(account.pk)["bounce"] == 1
    delivery = mailing.deliveries.get(email=gone.email)
    assert outcome(delivery)[:2] == ("hard", "5.1.1")
    assert Suppression.objects.get().email == gone.email
    assert "Reporting-MTA: dns; mx.sender.example" in FeedbackReport.objects.get().raw
