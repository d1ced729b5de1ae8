"""Mailbox feedback in the admin: "Test mailbox" against a real Dovecot, the IMAP
settings with a write-only password, feedback counts and filters, the Replies view
linking to the CRM record, bounce reports readable by their owner only, and the
superusers' un-suppress action that records who did it."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from massmail.models import Delivery, FeedbackReport, Reply, Suppression

from .factories import (
    DeliveryFactory,
    EmailAccountFactory,
    MailingFactory,
    SuperuserFactory,
    SuppressionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def root():
    return SuperuserFactory(username="root")


def note(response):
    (text,) = [str(message) for message in get_messages(response.wsgi_request)]
    return text


def url(name, *args, query=""):
    return reverse(f"admin:massmail_{name}", args=args) + query


# --- accounts -------------------------------------------------------------------------


def test_owner_tests_their_mailbox(client, anna, dovecot):
    account = EmailAccountFactory(owner=anna, **dovecot.account_fields())
    dovecot.deliver(b"From: a@example.org\r\nSubject: hello\r\n\r\nhi\r\n")
    client.force_login(anna)
    page = client.get(url("emailaccount_change", account.pk)).content.decode()
    assert url("emailaccount_test_mailbox", account.pk) in page and "Test mailbox" in page
    text = note(client.post(url("emailaccount_test_mailbox", account.pk)))
    assert f"Mailbox test of {account} succeeded" in text
    assert "the INBOX holds 1 messages" in text


def test_mailbox_test_with_a_wrong_password(client, root, anna, dovecot):
    account = EmailAccountFactory(owner=anna, **{**dovecot.account_fields(), "imap_password": "no"})
    client.force_login(root)
    text = note(client.post(url("emailaccount_test_mailbox", account.pk)))
    assert f"Mailbox test of {account} failed" in text and "refused the login" in text


def test_mailbox_test_of_another_managers_account_is_a_404(client, anna, ben):
    account = EmailAccountFactory(owner=anna)
    client.force_login(ben)
    assert client.post(url("emailaccount_test_mailbox", account.pk)).status_code == 404
    client.force_login(anna)
    assert client.get(url("emailaccount_test_mailbox", account.pk)).status_code == 405


def test_imap_password_is_write_only(client, root, anna):
    account = EmailAccountFactory(owner=anna, imap_password="Imap-Secret-xyzzy", read_feedback=True)
    client.force_login(root)
    page = client.get(url("emailaccount_change", account.pk)).content.decode()
    assert "Mailbox feedback (IMAP)" in page and 'name="imap_password"' in page
    assert "Imap-Secret-xyzzy" not in page
    data = {"owner": anna.pk, "name": account.name, "from_email": account.from_email,
            "smtp_host": "smtp.example.org", "smtp_port": 587, "smtp_user": "u", "password": "",
            "imap_port": 993, "imap_use_ssl": "on", "read_feedback": "on", "imap_password": "",
            "auth_method": "password",
            "massmail": "on"}
    response = client.post(url("emailaccount_change", account.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    account.refresh_from_db()
    assert account.imap_password == "Imap-Secret-xyzzy"
    client.force_login(anna)
    page = client.get(url("emailaccount_change", account.pk)).content.decode()
    assert "Imap-Secret-xyzzy" not in page and "imap_password" not in page


def test_account_page_shows_why_feedback_fails(client, anna):
    account = EmailAccountFactory(owner=anna, read_feedback=True, feedback_error="login refused",
                                  feedback_error_at=timezone.now())
    client.force_login(anna)
    assert "Failing since" in client.get(url("emailaccount_change", account.pk)).content.decode()


# --- mailings and deliveries ----------------------------------------------------------


def mailing_with_feedback(owner):
    mailing = MailingFactory(owner=owner)
    now = timezone.now()
    for fields in ({"bounce": "hard", "bounce_status": "5.1.1"}, {"bounce": "hard"},
                   {"bounce": "soft"}, {"complained_at": now}, {"auto_replied_at": now},
                   {"replied_at": now}, {}):
        DeliveryFactory(mailing=mailing, status=Delivery.Status.SENT, **fields)
    return mailing


def test_mailing_list_and_page_count_feedback_in_constant_queries(client, anna):
    mailing = mailing_with_feedback(anna)
    client.force_login(anna)
    page = client.get(url("mailing_changelist")).content.decode()
    for text in ("2 hard bounces", "1 soft bounce", "1 complaint", "1 auto-reply", "1 reply"):
        assert text in page
    assert f"?mailing__id__exact={mailing.pk}&amp;feedback=hard" in page
    assert "2 hard bounces" in client.get(url("mailing_change", mailing.pk)).content.decode()
    for _ in range(3):
        mailing_with_feedback(anna)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url("mailing_changelist")).content.decode()
    assert page.count("2 hard bounces") == 4
    # One query counts the feedback of the whole page.
    assert len([q for q in queries.captured_queries if "auto_replied_at" in q["sql"]]) == 1


@pytest.mark.parametrize("value, count", [("hard", 2), ("soft", 1), ("complained", 1),
                                          ("auto_replied", 1), ("replied", 1)])
def test_delivery_list_filters_by_feedback(client, anna, value, count):
    mailing = mailing_with_feedback(anna)
    client.force_login(anna)
    response = client.get(url("delivery_changelist", query=f"?mailing__id__exact={mailing.pk}"
                                                           f"&feedback={value}"))
    assert response.context["cl"].result_count == count


# --- replies and reports --------------------------------------------------------------


def test_manager_sees_their_replies_linking_to_the_crm_record(client, anna, ben):
    delivery = DeliveryFactory(mailing=MailingFactory(owner=anna), replied_at=timezone.now())
    Reply.objects.create(delivery=delivery, message_id="<r1@x>", from_email=delivery.email,
                         subject="Re: News")
    client.force_login(anna)
    page = client.get(url("reply_changelist")).content.decode()
    contact_url = reverse("admin:crm_contact_change", args=[delivery.recipient.object_id])
    assert "Re: News" in page and contact_url in page
    client.force_login(ben)
    assert "Re: News" not in client.get(url("reply_changelist")).content.decode()


def test_bounce_report_is_readable_by_its_owner_only(client, anna, ben):
    delivery = DeliveryFactory(mailing=MailingFactory(owner=anna), bounce="hard")
    report = FeedbackReport.objects.create(
        delivery=delivery, email=delivery.email, kind="hard", status="5.1.1",
        diagnostic="smtp; 550 5.1.1 User unknown", report_id="<r@x>",
        raw="Subject: Undelivered <script>alert(1)</script>")
    client.force_login(anna)
    page = client.get(url("feedbackreport_change", report.pk)).content.decode()
    assert "550 5.1.1 User unknown" in page and "Undelivered &lt;script&gt;" in page
    client.force_login(ben)
    response = client.get(url("feedbackreport_change", report.pk), follow=True)
    assert "User unknown" not in response.content.decode()
    assert "User unknown" not in client.get(url("feedbackreport_changelist")).content.decode()


# --- un-suppress ----------------------------------------------------------------------


def test_superuser_unsuppresses_bounced_addresses_and_it_is_logged(client, root):
    bounced = SuppressionFactory(reason=Suppression.Reason.BOUNCED)
    unsubscribed = SuppressionFactory(reason=Suppression.Reason.UNSUBSCRIBED)
    client.force_login(root)
    response = client.post(url("suppression_changelist"), {
        "action": "unsuppress_bounced", "_selected_action": [bounced.pk, unsubscribed.pk]})
    assert "1 bounced address may be mailed again." in note(response)
    assert list(Suppression.objects.values_list("email", flat=True)) == [unsubscribed.email]
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert (entry.user, entry.object_id) == (root, str(bounced.pk))


def test_managers_cannot_unsuppress(client, anna):
    bounced = SuppressionFactory(reason=Suppression.Reason.BOUNCED)
    client.force_login(anna)
    client.post(url("suppression_changelist"), {"action": "unsuppress_bounced",
                                                "_selected_action": [bounced.pk]})
    assert Suppression.objects.filter(pk=bounced.pk).exists()
