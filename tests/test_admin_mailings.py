"""Mailings and deliveries in the admin: the preview, status changes through the engine
(refusals and warnings of activation), the self-updating progress, resending, and that a
manager never reaches another manager's mailings or deliveries."""

import datetime
import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from massmail.admin.mailings import MAX_PROGRESS_IDS
from massmail.models import Delivery, Mailing, MassmailSettings, Suppression
from massmail.sending.runner import run

from .conftest import update_massmail_settings, with_every_permission
from .factories import (
    AttachmentFactory,
    ContactFactory,
    DeliveryFactory,
    EmailAccountFactory,
    MailingFactory,
    MessageFactory,
    RecipientFactory,
    SuperuserFactory,
    SuppressionFactory,
)

pytestmark = pytest.mark.django_db

PROGRESS = reverse("admin:massmail_mailing_progress")
DELIVERIES = reverse("admin:massmail_delivery_changelist")
MAILINGS = reverse("admin:massmail_mailing_changelist")


@pytest.fixture
def own_unsubscribe_page(db):
    update_massmail_settings(unsubscribe_url="https://crm.example.com/unsubscribed/")


def change_url(mailing):
    return reverse("admin:massmail_mailing_change", args=[mailing.pk])


def mailing_with(owner, statuses=(), vip=False, **fields):
    """A mailing of ``owner`` with one delivery (to one of their contacts) per status."""
    mailing = MailingFactory(owner=owner, **fields)
    for status in statuses:
        contact = ContactFactory(owner=owner)
        recipient = RecipientFactory(record=contact)
        recipient.vip = vip
        recipient.save()
        DeliveryFactory(mailing=mailing, recipient=recipient, email=contact.email, status=status)
    return mailing


def change_data(mailing, **changes):
    data = {"name": mailing.name, "message": mailing.message_id, "start_at_0": "", "start_at_1": "",
            "status": mailing.status}
    data.update(changes)
    return data


def shown_messages(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def activate(client, mailing):
    """Activate ``mailing`` on its change page, check that it is active and return the
    messages shown on the page after the redirect."""
    response = client.post(change_url(mailing), change_data(mailing, status="active"), follow=True)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.ACTIVE
    return shown_messages(response)


def warnings_of(messages):
    return [text for level, text in messages if level == "warning"]


# --- preview -------------------------------------------------------------------------------


def test_change_page_previews_the_first_recipient_sandboxed(as_anna, anna):
    message = MessageFactory(
        owner=anna, subject="News for {{ first_name }}",
        content='<html><body><p>Hello {{ first_name }} &amp; co</p><script>alert("x")</script>'
                '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')
    mailing = MailingFactory(owner=anna, message=message)
    contact = ContactFactory(owner=anna, first_name="<b>Zoë</b>")
    DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=contact), email=contact.email)

    response = as_anna.get(change_url(mailing))

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview["subject"] == "News for <b>Zoë</b>"
    assert "Hello &lt;b&gt;Zoë&lt;/b&gt; &amp; co" in preview["html"]  # the merge value is escaped
    assert "Hello <b>Zoë</b> & co" in preview["text"]
    assert "/massmail/unsubscribe/" in preview["text"]
    content = response.content.decode()
    iframe = re.search(r"<iframe[^>]*>", content)[0]
    assert 'sandbox=""' in iframe
    assert "allow-" not in iframe  # no allow-scripts, no allow-same-origin
    srcdoc = re.search(r'srcdoc="([^"]*)"', iframe)[1]
    assert "<script>" not in srcdoc  # escaped into the attribute, run only inside the sandbox
    assert html.unescape(srcdoc) == preview["html"]
    assert '<script>alert("x")</script>' not in content


def test_preview_of_a_mailing_without_recipients(as_anna, anna):
    response = as_anna.get(change_url(MailingFactory(owner=anna)))
    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "no recipient to show a preview for" in response.content.decode()


def test_preview_when_an_attachment_file_is_gone_says_why(as_anna, anna, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    attachment = AttachmentFactory(message=mailing.message)
    attachment.file.storage.delete(attachment.file.name)

    response = as_anna.get(change_url(mailing))

    assert response.status_code == 200
    assert "price-list.txt" in response.context["preview"]["error"]
    assert 'class="errorlist"' in response.content.decode()


def test_save_and_continue_shows_the_preview_of_the_new_message(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    other = MessageFactory(owner=anna, subject="Second message for {{ first_name }}")

    response = as_anna.post(change_url(mailing), change_data(mailing, message=other.pk,
                                                              _continue="1"), follow=True)

    assert response.context["preview"]["subject"].startswith("Second message for Ann")
    mailing.refresh_from_db()
    assert (mailing.message, mailing.status) == (other, Mailing.Status.PAUSED)


def test_message_picker_offers_the_owner_s_messages(client, anna, ben):
    mailing = MailingFactory(owner=anna)
    MessageFactory(owner=ben)
    for user in (anna, SuperuserFactory()):
        client.force_login(user)
        form = client.get(change_url(mailing)).context["adminform"].form
        assert set(form.fields["message"].queryset) == {mailing.message}


def test_message_is_fixed_once_sending_began(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.SENT, Delivery.Status.PENDING])
    form = as_anna.get(change_url(mailing)).context["adminform"].form
    assert "message" not in form.fields


# --- status changes --------------------------------------------------------------------------


def test_activation_without_usable_account_is_refused(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    EmailAccountFactory(owner=anna, disabled_at="2024-01-01T00:00Z", disabled_reason="535 auth")

    response = as_anna.post(change_url(mailing), change_data(mailing, status="active"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["status"]
    assert "no usable email account" in errors[0]
    assert "Ask an administrator" in errors[0]
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.PAUSED


def test_activation_with_only_the_main_account_warns_about_waiting_non_vips(
        as_anna, anna, own_unsubscribe_page):
    mailing = mailing_with(anna, [Delivery.Status.PENDING] * 2)
    EmailAccountFactory(owner=anna, main=True)

    warnings = warnings_of(activate(as_anna, mailing))

    assert len(warnings) == 1
    assert "2 non-VIP recipients will wait" in warnings[0]


def test_activation_with_the_former_default_unsubscribe_page_warns(as_anna, anna):
    update_massmail_settings(unsubscribe_url=MassmailSettings.DEFAULT_UNSUBSCRIBE_URL)
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    EmailAccountFactory(owner=anna)

    warnings = warnings_of(activate(as_anna, mailing))

    assert len(warnings) == 1
    assert "still the default example.com page" in warnings[0]


def test_activation_without_problems_warns_of_nothing(as_anna, anna, own_unsubscribe_page):
    mailing = mailing_with(anna, [Delivery.Status.PENDING], vip=True)
    EmailAccountFactory(owner=anna, main=True)
    EmailAccountFactory(owner=anna)

    messages = activate(as_anna, mailing)

    assert [level for level, _text in messages] == ["success"]


@pytest.mark.parametrize(("start", "target"), [
    (Mailing.Status.ACTIVE, Mailing.Status.PAUSED),
    (Mailing.Status.ACTIVE, Mailing.Status.INTERRUPTED),
    (Mailing.Status.PAUSED, Mailing.Status.INTERRUPTED),
])
def test_pause_and_interrupt_on_the_change_page(as_anna, anna, start, target):
    mailing = mailing_with(anna, [Delivery.Status.PENDING], status=start)
    response = as_anna.post(change_url(mailing), change_data(mailing, status=target, name="Renamed"))
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert (mailing.status, mailing.name) == (target, "Renamed")


def test_done_cannot_be_set_by_hand(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    form = as_anna.get(change_url(mailing)).context["adminform"].form
    assert [value for value, _label in form.fields["status"].choices] == [
        "paused", "active", "interrupted"]

    response = as_anna.post(change_url(mailing), change_data(mailing, status="done"))

    assert response.context["adminform"].form.errors["status"]
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.PAUSED


def test_a_finished_mailing_keeps_its_status(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.SENT], status=Mailing.Status.DONE)
    form = as_anna.get(change_url(mailing)).context["adminform"].form
    assert "status" not in form.fields
    as_anna.post(change_url(mailing), change_data(mailing, status="active", name="Renamed"))
    mailing.refresh_from_db()
    assert (mailing.status, mailing.name) == (Mailing.Status.DONE, "Renamed")


def run_action(client, action, objects, url=MAILINGS, **extra):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects], **extra},
                       follow=True)


def test_pause_resume_and_interrupt_actions(as_anna, anna, own_unsubscribe_page):
    EmailAccountFactory(owner=anna)
    active = mailing_with(anna, [Delivery.Status.PENDING], status=Mailing.Status.ACTIVE)
    paused = mailing_with(anna, [Delivery.Status.PENDING])
    done = mailing_with(anna, [Delivery.Status.SENT], status=Mailing.Status.DONE)

    response = run_action(as_anna, "pause_mailings", [active, paused, done])
    assert ("info", "1 mailing paused.") in shown_messages(response)
    statuses = {m.pk: m.status for m in Mailing.objects.all()}
    assert statuses == {active.pk: "paused", paused.pk: "paused", done.pk: "done"}

    response = run_action(as_anna, "resume_mailings", [active, paused, done])
    assert ("info", "2 mailings activated.") in shown_messages(response)

    response = run_action(as_anna, "interrupt_mailings", [active, done])
    assert ("info", "1 mailing interrupted.") in shown_messages(response)
    statuses = {m.pk: m.status for m in Mailing.objects.all()}
    assert statuses == {active.pk: "interrupted", paused.pk: "active", done.pk: "done"}


def test_resume_action_reports_the_refusal(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.PENDING], name="Spring")
    response = run_action(as_anna, "resume_mailings", [mailing])
    messages = shown_messages(response)
    assert ("info", "0 mailings activated.") in messages
    assert any(level == "error" and text.startswith("Spring: You have no usable email account")
               for level, text in messages)
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.PAUSED


# --- progress --------------------------------------------------------------------------------


def test_list_shows_progress_counts_and_why_not_sending(as_anna, anna, always_open):
    S = Delivery.Status
    update_massmail_settings(use_business_time=False)  # the same at any time of day
    mailing = mailing_with(anna, [S.SENT, S.SENT, S.FAILED, S.SKIPPED, S.PENDING],
                           status=Mailing.Status.ACTIVE)
    recent, old = mailing.deliveries.filter(status=S.SENT)
    Delivery.objects.filter(pk=recent.pk).update(sent_at=timezone.now() - datetime.timedelta(hours=23))
    Delivery.objects.filter(pk=old.pk).update(sent_at=timezone.now() - datetime.timedelta(hours=25))
    paused = mailing_with(anna, [S.PENDING], name="Waiting")

    response = as_anna.get(MAILINGS)

    assert response.status_code == 200
    content = response.content.decode()
    row = content[content.index(f'data-massmail-mailing="{mailing.pk}"'):]
    assert 'aria-valuenow="80"' in row
    assert "80% processed" in row
    assert "Delivered 2 of 5" in row
    assert "1 failed · 1 skipped" in row
    assert f'data-massmail-mailing="{mailing.pk}" data-massmail-field="sent_24h" ' \
           f'data-massmail-active="true">1</span>' in content
    assert "No usable email account for mailings." in row
    assert "The mailing is paused: set it to Active to start sending." in content
    assert f"{DELIVERIES}?mailing__id__exact={paused.pk}" in content
    assert 'src="/static/massmail/progress.js"' in content
    assert f'data-url="{PROGRESS}"' in content


def many_mailings(owner, count):
    """``count`` mailings of ``owner`` in every status and situation the list explains."""
    S = Delivery.Status
    kinds = [
        ({"status": Mailing.Status.DONE}, [S.SENT, S.FAILED]),
        ({"status": Mailing.Status.ACTIVE}, [S.PENDING, S.SENT]),
        ({"status": Mailing.Status.ACTIVE}, [S.SENDING]),
        ({"status": Mailing.Status.PAUSED}, [S.PENDING]),
        ({"status": Mailing.Status.ACTIVE,
          "start_at": timezone.now() + datetime.timedelta(days=1)}, [S.PENDING]),
    ]
    for index in range(count):
        fields, statuses = kinds[index % len(kinds)]
        mailing_with(owner, statuses, **fields)


@pytest.mark.parametrize("as_superuser", [False, True])
def test_mailing_list_makes_a_constant_number_of_queries(client, anna, as_superuser,
                                                         django_assert_max_num_queries):
    """1 or 50 mailings, active ones included (whose "why" needs the accounts, their
    usage and the waiting rows): the same bound."""
    update_massmail_settings(use_business_time=False)
    EmailAccountFactory(owner=anna)
    EmailAccountFactory(owner=anna, main=True, disabled_at=timezone.now())
    client.force_login(SuperuserFactory() if as_superuser else anna)
    many_mailings(anna, 1)
    with django_assert_max_num_queries(16):
        assert client.get(MAILINGS).status_code == 200
    many_mailings(anna, 49)
    with django_assert_max_num_queries(16) as queries:
        assert client.get(MAILINGS, {"all": ""}).status_code == 200
    # Massmail Settings are read once for the page, not once per row.
    assert sum("massmail_massmailsettings" in q["sql"] for q in queries.captured_queries) == 1
    with django_assert_max_num_queries(16):
        ids = ",".join(str(pk) for pk in Mailing.objects.values_list("pk", flat=True))
        assert client.get(PROGRESS, {"ids": ids}).status_code == 200


def test_all_failed_mailing_does_not_look_like_a_success(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.FAILED, S.FAILED, S.FAILED], status=Mailing.Status.DONE)
    bounced = mailing.deliveries.first()
    SuppressionFactory(email=bounced.email, reason=Suppression.Reason.BOUNCED)

    content = as_anna.get(MAILINGS).content.decode()

    row = content[content.index(f'data-massmail-mailing="{mailing.pk}"'):]
    assert "Delivered 0 of 3" in row
    assert "2 failed · 1 bounced" in row
    assert "massmail-bar-delivered" not in row
    assert "3 not delivered" in row


def test_every_active_mailing_that_is_not_sending_says_why(as_anna, anna):
    S = Delivery.Status
    update_massmail_settings(use_business_time=False)
    account = EmailAccountFactory(owner=anna, daily_limit=1)
    waiting = mailing_with(anna, [S.PENDING], status=Mailing.Status.ACTIVE)
    DeliveryFactory(mailing=mailing_with(anna, [], status=Mailing.Status.DONE), account=account,
                    status=S.SENT, attempted_at=timezone.now())
    under_way = mailing_with(anna, [S.SENDING], status=Mailing.Status.ACTIVE)
    retrying = mailing_with(anna, [S.PENDING], status=Mailing.Status.ACTIVE)
    retrying.deliveries.update(next_attempt_at=timezone.now() + datetime.timedelta(hours=1))

    page = as_anna.get(MAILINGS)

    why = {m.pk: m.massmail_cells["why"] for m in page.context["cl"].result_list}
    assert "reached its sending limits" in why[waiting.pk]
    assert "Sending now." in why[under_way.pk]
    assert "Waiting to retry temporary failures" in why[retrying.pk]


def test_progress_endpoint_returns_the_cells(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.SENT, S.PENDING], status=Mailing.Status.ACTIVE)
    done = mailing_with(anna, [S.SENT], status=Mailing.Status.DONE)

    data = as_anna.get(PROGRESS, {"ids": f"{mailing.pk},{done.pk}"}).json()["mailings"]

    assert set(data) == {str(mailing.pk), str(done.pk)}
    first = data[str(mailing.pk)]
    assert (first["status"], first["active"], first["percent"]) == ("active", True, 50)
    assert (first["counts"]["total"], first["counts"]["sent"], first["counts"]["pending"]) == (2, 1, 1)
    assert set(first["cells"]) == {"status", "progress", "sent_24h", "why"}
    assert "50% processed" in first["cells"]["progress"]
    assert (data[str(done.pk)]["active"], data[str(done.pk)]["percent"]) == (False, 100)
    assert data[str(done.pk)]["cells"]["status"] == "done"


def test_progress_endpoint_is_404_for_another_manager_s_mailing(as_anna, anna, ben):
    own, other = mailing_with(anna, [Delivery.Status.PENDING]), mailing_with(ben, [Delivery.Status.SENT])
    for ids in (str(other.pk), f"{own.pk},{other.pk}", "", "x", "999999"):
        response = as_anna.get(PROGRESS, {"ids": ids})
        assert response.status_code == 404, ids
        assert other.name.encode() not in response.content


def test_progress_endpoint_refuses_more_ids_than_a_page_shows(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.PENDING])
    ids = ",".join([str(mailing.pk), *(str(n) for n in range(10**6, 10**6 + MAX_PROGRESS_IDS))])
    assert as_anna.get(PROGRESS, {"ids": ids}).status_code == 404
    assert as_anna.get(PROGRESS, {"ids": str(mailing.pk)}).status_code == 200


# --- deliveries --------------------------------------------------------------------------------


def test_deliveries_of_one_mailing_with_filters(as_anna, anna, ben):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.SENT, S.FAILED], name="Spring")
    mailing_with(anna, [S.SENT], name="Autumn")
    account = EmailAccountFactory(owner=anna, name="Anna news")
    EmailAccountFactory(owner=ben, name="Ben news")
    Delivery.objects.filter(mailing=mailing).update(account=account)

    response = as_anna.get(DELIVERIES, {"mailing__id__exact": mailing.pk})

    assert response.status_code == 200
    assert {d.mailing_id for d in response.context["cl"].result_list} == {mailing.pk}
    content = response.content.decode()
    assert "Deliveries of “Spring”" in content
    assert "Anna news" in content
    assert "Ben news" not in content  # the account filter offers only the user's accounts
    failed = as_anna.get(DELIVERIES, {"mailing__id__exact": mailing.pk, "status__exact": "failed"})
    assert [d.status for d in failed.context["cl"].result_list] == ["failed"]


@pytest.mark.parametrize("mailing_id", ["x", "1.5", "999999"])
def test_deliveries_of_a_mailing_that_is_not_there_is_a_404(as_anna, anna, mailing_id):
    assert as_anna.get(DELIVERIES, {"mailing__id__exact": mailing_id}).status_code == 404


def test_resend_failed(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.FAILED, S.FAILED, S.SENT, S.UNKNOWN], status=Mailing.Status.DONE)

    response = run_action(as_anna, "resend_failed", mailing.deliveries.all(), url=DELIVERIES)

    assert "2 deliveries queued again." in response.content.decode()
    assert sorted(mailing.deliveries.values_list("status", flat=True)) == [
        "pending", "pending", "sent", "unknown"]
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.ACTIVE


def test_resend_leaves_suppressed_addresses_and_says_so(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.FAILED, S.FAILED, S.FAILED], status=Mailing.Status.DONE)
    bounced, unsubscribed, retried = mailing.deliveries.order_by("pk")
    SuppressionFactory(email=bounced.email, reason=Suppression.Reason.BOUNCED)
    SuppressionFactory(email=unsubscribed.email, reason=Suppression.Reason.UNSUBSCRIBED)

    response = run_action(as_anna, "resend_failed", mailing.deliveries.all(), url=DELIVERIES)

    assert [m.message for m in response.context["messages"]] == [
        "1 delivery queued again. 2 skipped: their addresses are suppressed (unsubscribed or bounced)."]
    assert dict(mailing.deliveries.values_list("pk", "status")) == {
        bounced.pk: S.FAILED, unsubscribed.pk: S.FAILED, retried.pk: S.PENDING}


def test_resend_with_nothing_to_resend_says_so_and_changes_nothing(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.SENT, S.SKIPPED], status=Mailing.Status.DONE)

    response = run_action(as_anna, "resend_failed", mailing.deliveries.all(), url=DELIVERIES)

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("warning", "None of the selected deliveries can be resent: nothing was changed.")]
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.DONE
    assert sorted(mailing.deliveries.values_list("status", flat=True)) == ["sent", "skipped"]


def test_resend_unknown_asks_first_about_duplicates(as_anna, anna):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.UNKNOWN, S.UNKNOWN, S.FAILED], status=Mailing.Status.DONE)
    rows = list(mailing.deliveries.all())

    page = as_anna.post(DELIVERIES, {"action": "resend_unknown", "_selected_action": [r.pk for r in rows]})

    assert page.status_code == 200
    content = page.content.decode()
    assert "may already have been delivered" in content
    assert "the same email twice" in content
    assert sorted(mailing.deliveries.values_list("status", flat=True)) == ["failed", "unknown", "unknown"]
    unknown_ids = sorted(r.pk for r in rows if r.status == S.UNKNOWN)
    asked = re.findall(r'name="_selected_action" value="(\d+)"', content)
    assert sorted(int(pk) for pk in asked) == unknown_ids

    confirmed = as_anna.post(DELIVERIES, {"action": "resend_unknown", "_selected_action": unknown_ids,
                                          "post": "yes"}, follow=True)

    assert "2 deliveries queued again." in confirmed.content.decode()
    assert sorted(mailing.deliveries.values_list("status", flat=True)) == ["failed", "pending", "pending"]


def test_resend_unknown_without_unknown_rows(as_anna, anna):
    mailing = mailing_with(anna, [Delivery.Status.FAILED])
    response = run_action(as_anna, "resend_unknown", mailing.deliveries.all(), url=DELIVERIES)
    assert "None of the selected deliveries has an unknown outcome." in response.content.decode()


# --- another manager ---------------------------------------------------------------------------


def test_second_manager_reaches_none_of_the_first_manager_s_mailing_urls(client, anna, ben):
    S = Delivery.Status
    mailing = mailing_with(anna, [S.FAILED, S.UNKNOWN], name="Anna secret mailing",
                           status=Mailing.Status.ACTIVE)
    delivery = mailing.deliveries.first()
    # Even with every model permission: ownership alone keeps Ben out.
    client.force_login(with_every_permission(ben))

    urls = [
        change_url(mailing),
        reverse("admin:massmail_mailing_history", args=[mailing.pk]),
        reverse("admin:massmail_mailing_delete", args=[mailing.pk]),
        f"{PROGRESS}?ids={mailing.pk}",
        f"{DELIVERIES}?mailing__id__exact={mailing.pk}",
        reverse("admin:massmail_delivery_change", args=[delivery.pk]),
        reverse("admin:massmail_delivery_history", args=[delivery.pk]),
        reverse("admin:massmail_delivery_delete", args=[delivery.pk]),
    ]
    for url in urls:
        response = client.get(url, follow=True)
        assert response.redirect_chain in ([], [(reverse("admin:index"), 302)]), url
        assert response.status_code in (200, 403, 404), url
        assert b"Anna secret mailing" not in response.content, url
        assert delivery.email.encode() not in response.content, url
        if response.status_code == 200:  # the admin index, saying the object does not exist
            assert response.request["PATH_INFO"] == reverse("admin:index"), url

    # Nor by POST: changing, actions on her ids.
    client.post(change_url(mailing), change_data(mailing, status="paused", name="Taken"))
    run_action(client, "pause_mailings", [mailing])
    run_action(client, "interrupt_mailings", [mailing])
    run_action(client, "resend_failed", mailing.deliveries.all(), url=DELIVERIES)
    run_action(client, "resend_unknown", mailing.deliveries.all(), url=DELIVERIES, post="yes")
    mailing.refresh_from_db()
    assert (mailing.name, mailing.status) == ("Anna secret mailing", Mailing.Status.ACTIVE)
    assert sorted(mailing.deliveries.values_list("status", flat=True)) == ["failed", "unknown"]


def test_delivery_list_names_recipients_with_links_and_shows_replies(client, anna,
                                                                     django_assert_max_num_queries):
    client.force_login(anna)
    mailing = MailingFactory(owner=anna)
    contact = ContactFactory(owner=anna, first_name="Zoë", last_name="Quist")
    DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=contact), email=contact.email,
                    status=Delivery.Status.FAILED, smtp_code=550,
                    smtp_reply="5.1.1 <zoe@example.org>: Recipient address rejected: " + "x" * 200)
    gone = ContactFactory(owner=anna)
    DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=gone), email=gone.email)
    gone.delete()

    with django_assert_max_num_queries(15):
        content = client.get(DELIVERIES, {"mailing__id__exact": mailing.pk}).content.decode()
    for _ in range(40):
        record = ContactFactory(owner=anna)
        DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=record), email=record.email)
    with django_assert_max_num_queries(15):
        assert client.get(DELIVERIES, {"mailing__id__exact": mailing.pk}).status_code == 200

    link = reverse("admin:crm_contact_change", args=[contact.pk])
    assert f'<a href="{link}">Zoë Quist</a>' in content
    assert "550 5.1.1 &lt;zoe@example.org&gt;: Recipient address rejected" in content
    assert "x" * 100 not in content
    assert "record deleted" in content


def test_managers_do_not_see_lease_internals(client, anna):
    delivery = DeliveryFactory(mailing=MailingFactory(owner=anna), lease_owner="worker-7f3a",
                               status=Delivery.Status.CLAIMED)
    page = reverse("admin:massmail_delivery_change", args=[delivery.pk])
    client.force_login(anna)
    assert "worker-7f3a" not in client.get(page).content.decode()
    client.force_login(SuperuserFactory())
    assert "worker-7f3a" in client.get(page).content.decode()


def test_a_resent_row_shows_its_new_attempt(as_anna, anna, account_on, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(use_business_time=False)
    account_on(anna)
    mailing = mailing_with(anna, [Delivery.Status.FAILED], status=Mailing.Status.DONE)
    earlier = timezone.now() - datetime.timedelta(days=2)
    mailing.deliveries.update(smtp_code=451, smtp_reply="4.3.0 try again later",
                              attempted_at=earlier, attempts=4)

    run_action(as_anna, "resend_failed", mailing.deliveries.all(), url=DELIVERIES)
    run()

    row = as_anna.get(DELIVERIES, {"mailing__id__exact": mailing.pk}).context["cl"].result_list[0]
    assert row.status == Delivery.Status.SENT
    assert row.attempted_at > earlier
    assert row.smtp_code == 250 and "try again" not in row.smtp_reply


def test_mailing_preview_can_be_shown_as_another_recipient(as_anna, anna):
    mailing = MailingFactory(owner=anna, message=MessageFactory(owner=anna, subject="Hi {{ first_name }}"))
    for name in ("Ada", "Grace"):
        contact = ContactFactory(owner=anna, first_name=name)
        DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=contact), email=contact.email)
    second = mailing.deliveries.order_by("pk").last()

    first_page = as_anna.get(change_url(mailing))
    assert first_page.context["preview"]["subject"] == "Hi Ada"
    assert f'href="?preview_as={second.pk}#massmail-preview"' in first_page.content.decode()

    chosen = as_anna.get(change_url(mailing), {"preview_as": second.pk})
    assert chosen.context["preview"]["subject"] == "Hi Grace"
    # Anything else (another mailing's delivery, garbage) shows the first recipient.
    assert as_anna.get(change_url(mailing), {"preview_as": "x"}).context["preview"]["subject"] == "Hi Ada"
