"""Unsubscribing: the page (GET never changes anything), its POST and the RFC 8058
one-click POST (both authorised by the token alone, with Django's CSRF middleware on),
refused tokens, what an unsubscribe changes, the signal, the system checks about it, a
real browser, and the whole path from a received email."""

import html
import importlib.util
import io
import os
import re
import threading
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from example_project.crm.models import Contact
from massmail.checks import site_url_check, unsubscribe_page_check
from massmail.models import Delivery, MassmailSettings, Suppression
from massmail.signals import unsubscribed
from massmail.tokens import make_token
from massmail.unsubscribe import unsubscribe

from .conftest import in_threads, need_service, update_massmail_settings
from .factories import (
    ContactFactory,
    DeliveryFactory,
    EmailAccountFactory,
    LeadFactory,
    MailingFactory,
    MessageFactory,
    RecipientFactory,
    SuppressionFactory,
    UserFactory,
)
from .test_browser_manager import CHROMIUM_ARGS, SCREENSHOTS

CHROMIUM = "/usr/bin/chromium"
THANKS_URL = "https://shop.example/unsubscribed/"
ONE_CLICK = "List-Unsubscribe=One-Click"


def url_of(delivery):
    token = make_token(delivery.pk, delivery.email, delivery.mailing_id)
    return reverse("massmail:unsubscribe", kwargs={"token": token})


def browser_unsubscribe(path):
    """What a browser does: load the page, submit its form (which has no fields: the token
    in the URL is all it needs), with Django's CSRF checks on."""
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    assert page.status_code == 200
    assert "<input" not in page.content.decode()
    return browser.post(path, {})


def one_click(path, multipart=False):
    """What a mail client does (RFC 8058): a cookieless POST without a CSRF token."""
    client = Client(enforce_csrf_checks=True)
    if multipart:
        return client.post(path, {"List-Unsubscribe": "One-Click"})
    return client.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")


@pytest.fixture
def thanks_url(db):
    update_massmail_settings(unsubscribe_url=THANKS_URL)
    return THANKS_URL


@pytest.fixture
def delivery(db):
    return DeliveryFactory(status=Delivery.Status.SENT)


@pytest.fixture
def signals():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    unsubscribed.connect(receiver)
    yield received
    unsubscribed.disconnect(receiver)


def nothing_changed(delivery):
    delivery.refresh_from_db()
    contact = delivery.recipient.record
    contact.refresh_from_db()
    return (not Suppression.objects.exists() and contact.massmail
            and delivery.status == Delivery.Status.SENT)


# --- the page ----------------------------------------------------------------------


def test_get_changes_nothing_and_names_sender_and_masked_address(client, delivery):
    update_massmail_settings(company_name="Analytical Engines Ltd")
    delivery.email = "john.doe@example.org"
    delivery.save()

    response = client.get(url_of(delivery))

    assert response.status_code == 200
    assert nothing_changed(delivery)
    content = response.content.decode()
    assert content.count("<form") == 1 and content.count("<button") == 1
    assert '<form method="post">' in content
    # Nothing submits the form but its button: no script, no refresh, no auto-focus tricks.
    for automatic in ("<script", "http-equiv", "onload", "autofocus"):
        assert automatic not in content.lower()
    assert "Analytical Engines Ltd" in content
    assert "j***@e***.org" in content
    assert "john.doe" not in content
    text = content.lower()
    for revealing in ("<a", "href", "<link", "admin", "crm", "django"):
        assert revealing not in text
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-store" in response["Cache-Control"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert not response.cookies  # nothing to consent to, nothing to block


def test_second_visit_says_already_unsubscribed_and_offers_nothing(client, delivery):
    browser_unsubscribe(url_of(delivery))

    content = client.get(url_of(delivery)).content.decode()

    assert "already unsubscribed" in content
    assert "<form" not in content and "<button" not in content


def test_page_post_without_own_page_lands_on_massmails_page(client, delivery):
    response = browser_unsubscribe(url_of(delivery))

    assert response["Location"] == "http://127.0.0.1:8000" + reverse("massmail:unsubscribed")
    page = client.get(reverse("massmail:unsubscribed"))
    assert "You have been unsubscribed" in page.content.decode()
    assert Suppression.objects.get().email == delivery.email


def test_head_changes_nothing(client, delivery):
    assert client.head(url_of(delivery)).status_code == 200
    assert nothing_changed(delivery)


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options"])
def test_other_methods_are_not_allowed(client, delivery, method):
    assert getattr(client, method)(url_of(delivery)).status_code == 405
    assert nothing_changed(delivery)


# --- what unsubscribing changes ----------------------------------------------------


def test_page_post_unsubscribes_everywhere_and_redirects(thanks_url):
    manager = UserFactory()
    contact = ContactFactory(owner=manager, email="Ann@Example.ORG")
    mailed = DeliveryFactory(mailing=MailingFactory(owner=manager), status=Delivery.Status.SENT,
                             recipient=RecipientFactory(record=contact))
    # The same address in a running mailing (pending), reached through the contact...
    running = DeliveryFactory(mailing=MailingFactory(owner=manager),
                              recipient=RecipientFactory(record=contact))
    # ...and in another one (already claimed by a batch), reached through a lead.
    lead = LeadFactory(owner=manager, email="Ann@example.org")
    claimed = DeliveryFactory(mailing=MailingFactory(owner=manager), status=Delivery.Status.CLAIMED,
                              recipient=RecipientFactory(record=lead), lease_owner="worker-1")
    # Another address in the running mailing keeps going.
    other = DeliveryFactory(mailing=running.mailing)
    # A record with the address that was never mailed keeps its flag: nothing says it
    # belongs to the person who unsubscribed.
    unmailed = ContactFactory(owner=manager, email="Ann@example.org")

    response = browser_unsubscribe(url_of(mailed))

    assert response.status_code == 303
    assert response["Location"] == thanks_url
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason, suppression.channel, suppression.mailing) == (
        "Ann@example.org", Suppression.Reason.UNSUBSCRIBED, Suppression.Channel.PAGE, mailed.mailing)
    contact.refresh_from_db()
    lead.refresh_from_db()
    unmailed.refresh_from_db()
    assert (contact.massmail, lead.massmail, unmailed.massmail) == (False, False, True)
    for row in (mailed, running, claimed, other):
        row.refresh_from_db()
    assert mailed.status == Delivery.Status.SENT
    for row in (running, claimed):
        assert (row.status, row.skip_reason, row.lease_owner) == (
            Delivery.Status.SKIPPED, Delivery.SkipReason.UNSUBSCRIBED, "")
    assert other.status == Delivery.Status.PENDING


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_without_cookies_or_token(delivery, multipart):
    response = one_click(url_of(delivery), multipart=multipart)

    assert response.status_code == 200
    assert not response.has_header("Location")
    assert response["Content-Type"].startswith("text/plain")
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.channel, suppression.mailing) == (
        delivery.email, Suppression.Channel.ONE_CLICK, delivery.mailing)
    contact = delivery.recipient.record
    contact.refresh_from_db()
    assert contact.massmail is False


def first_format(delivery_id):
    """A token of the first format, which named only a delivery (emails sent before the
    address went into the token carry it)."""
    return signing.Signer(salt="massmail.unsubscribe").sign(str(delivery_id))


def other_salt(delivery):
    return signing.dumps(delivery.pk, salt="other")


def forged(delivery):
    """The signature of one token on the value of another."""
    other = make_token(delivery.pk + 1, "someone.else@example.org", delivery.mailing_id)
    return other.rpartition(":")[0] + ":" + make_token(delivery.pk, delivery.email).rpartition(":")[2]


def truncated(delivery):
    return make_token(delivery.pk, delivery.email)[:-4]


def damaged_ciphertext(delivery):
    """Validly signed, but not something massmail encrypted."""
    return signing.Signer(salt="massmail.unsubscribe.address").sign("not-a-fernet-token")


def not_a_delivery(delivery):
    return signing.dumps("everyone", salt="massmail.unsubscribe")


def deleted_delivery(delivery):
    """A first-format token resolves through its delivery: it dies with it."""
    gone = DeliveryFactory(mailing=delivery.mailing)
    token = first_format(gone.pk)
    gone.delete()
    return token


@pytest.mark.parametrize("bad_token", [other_salt, forged, truncated, damaged_ciphertext,
                                       not_a_delivery, deleted_delivery])
@pytest.mark.parametrize("request_kind", ["get", "page_post", "one_click"])
def test_bad_token_is_refused_and_changes_nothing(delivery, bad_token, request_kind):
    path = reverse("massmail:unsubscribe", kwargs={"token": bad_token(delivery)})
    client = Client(enforce_csrf_checks=True)
    if request_kind == "get":
        response = client.get(path)
    elif request_kind == "page_post":
        response = client.post(path, {})
    else:
        response = one_click(path)

    assert response.status_code == 400
    assert b"not valid" in response.content
    assert nothing_changed(delivery)


def test_token_hides_the_address():
    token = make_token(7, "john.doe@example.org", 3)
    assert "john" not in token and "example" not in token


def test_first_format_tokens_still_work_while_their_delivery_exists(client, delivery):
    path = reverse("massmail:unsubscribe", kwargs={"token": first_format(delivery.pk)})
    assert client.get(path).status_code == 200
    assert one_click(path).status_code == 200
    assert Suppression.objects.get().email == delivery.email


def delete_mailing(delivery):
    delivery.mailing.delete()


def delete_owner(delivery):
    mailing = delivery.mailing
    mailing.message.owner = mailing.owner  # as in real life: one manager's message
    mailing.message.save()
    mailing.owner.delete()


def delete_record(delivery):
    delivery.recipient.record.delete()


@pytest.mark.parametrize("deletion", [delete_mailing, delete_owner, delete_record])
@pytest.mark.parametrize("request_kind", ["page", "one_click"])
def test_links_outlive_every_deletion(delivery, deletion, request_kind, thanks_url):
    """Whatever a superuser deletes, a link in a delivered email still unsubscribes."""
    path = url_of(delivery)
    email = delivery.email
    deletion(delivery)
    assert not Delivery.objects.filter(pk=delivery.pk).exists() or deletion is delete_record

    assert Client().get(path).status_code == 200
    if request_kind == "page":
        response = browser_unsubscribe(path)
        assert (response.status_code, response["Location"]) == (303, thanks_url)
    else:
        assert one_click(path).status_code == 200
    assert Suppression.objects.get().email == email
    assert "already unsubscribed" in Client().get(path).content.decode()


def test_unsubscribing_twice_is_harmless(delivery, thanks_url, signals,
                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert one_click(url_of(delivery)).status_code == 200
    first = Suppression.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        assert one_click(url_of(delivery)).status_code == 200
        assert browser_unsubscribe(url_of(delivery))["Location"] == thanks_url
        unsubscribe(delivery.email, channel=Suppression.Channel.PAGE)

    again = Suppression.objects.get()
    assert (again.pk, again.channel, again.created_at) == (first.pk, first.channel, first.created_at)
    assert len(signals) == 1


def test_an_existing_suppression_keeps_its_reason(delivery):
    SuppressionFactory(email=delivery.email, reason=Suppression.Reason.BOUNCED)
    pending = DeliveryFactory(email=delivery.email, recipient=delivery.recipient)

    unsubscribe(delivery.email, mailing=delivery.mailing, channel=Suppression.Channel.ONE_CLICK)

    assert Suppression.objects.get().reason == Suppression.Reason.BOUNCED
    pending.refresh_from_db()
    assert pending.skip_reason == Delivery.SkipReason.UNSUBSCRIBED


def test_signal_is_sent_after_commit(delivery, signals, django_capture_on_commit_callbacks):
    local, _, domain = delivery.email.partition("@")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # Any spelling of the domain is the same address.
        unsubscribe(f" {local}@{domain.upper()} ", mailing=delivery.mailing,
                    channel=Suppression.Channel.ONE_CLICK)
        assert signals == []  # not before the commit
    assert len(callbacks) == 1
    [sent] = signals
    contact = delivery.recipient.record
    assert sent["email"] == delivery.email
    assert (sent["mailing"], sent["channel"]) == (delivery.mailing, Suppression.Channel.ONE_CLICK)
    assert [record.pk for record in sent["records"]] == [contact.pk]
    assert sent["records"][0].massmail is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_unsubscribes_of_one_address(postgres, signals):
    delivery = DeliveryFactory(status=Delivery.Status.SENT)
    pending = DeliveryFactory(email=delivery.email, recipient=delivery.recipient)
    workers = 6
    barrier = threading.Barrier(workers)

    def work():
        barrier.wait()
        unsubscribe(delivery.email, mailing=delivery.mailing, channel=Suppression.Channel.PAGE)

    in_threads(workers, work)  # and no worker raised
    assert Suppression.objects.filter(email=delivery.email).count() == 1
    pending.refresh_from_db()
    assert pending.status == Delivery.Status.SKIPPED
    assert len(signals) == 1


def open_then_click_in_chromium(url, thanks_url):
    """Open ``url`` in Debian's Chromium (script on, as link scanners run it), leave it
    for 3 s, then click the button. Returns (the URL after 3 s, the final URL, the text
    of a second visit).

    Playwright runs only inside this function: the ORM must not be used while its event
    loop runs in the thread.
    """
    need_service("Chromium", os.path.exists(CHROMIUM), f"needs Debian's {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context().new_page()
        page.route(thanks_url, lambda route: route.fulfill(body="Goodbye"))
        page.goto(url)
        # The requirement is "left on the page for 3 s": a scanner's visit.
        page.wait_for_timeout(3000)
        after_visit = page.url
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "unsubscribe-page.png"))
        page.click("button")
        page.wait_for_url(thanks_url)
        second = browser.new_context().new_page()
        second.goto(url)
        text = second.inner_text("body")
        browser.close()
    return after_visit, text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_page_in_a_real_browser(live_server, thanks_url):
    """A headless browser left on the page (what Safe Links, Mimecast and Proofpoint
    do) changes nothing; the button unsubscribes (the browser sends ``Origin: null``
    under the page's no-referrer policy and still gets through) and lands on the
    company's page; a second visit says the address is already unsubscribed."""
    delivery = DeliveryFactory(status=Delivery.Status.SENT)
    url = live_server.url + url_of(delivery)
    after_visit, second_visit = open_then_click_in_chromium(url, thanks_url)

    assert after_visit == url
    assert Suppression.objects.get().channel == Suppression.Channel.PAGE
    assert "already unsubscribed" in second_visit


# --- system checks -----------------------------------------------------------------


@pytest.mark.parametrize(("debug", "site_url", "warned"), [
    (False, "http://crm.example.com", True),
    (False, "https://crm.example.com", False),
    (True, "http://127.0.0.1:8000", False),
])
def test_site_url_must_be_https_outside_debug(settings, debug, site_url, warned):
    with override_settings(DEBUG=debug, MASSMAIL={**settings.MASSMAIL, "SITE_URL": site_url}):
        assert [w.id for w in site_url_check(None)] == (["massmail.W010"] if warned else [])


@pytest.mark.django_db
def test_former_default_unsubscribe_page_is_warned_about():
    assert unsubscribe_page_check(None, databases=None) == []  # not a database check run
    MassmailSettings.load()
    assert unsubscribe_page_check(None, databases=["default"]) == []  # massmail's own page
    MassmailSettings.objects.update(unsubscribe_url=MassmailSettings.DEFAULT_UNSUBSCRIBE_URL)
    assert [w.id for w in unsubscribe_page_check(None, databases=["default"])] == ["massmail.W011"]
    MassmailSettings.objects.update(unsubscribe_url=THANKS_URL)
    assert unsubscribe_page_check(None, databases=["default"]) == []


# --- end to end, through a real SMTP server -----------------------------------------


def unsubscribe_urls(received):
    """The unsubscribe URL of an email's HTML body and of its List-Unsubscribe header."""
    body = received.get_body(preferencelist=("html",)).get_content()
    [in_body] = {html.unescape(url) for url in re.findall(r'href="([^"]*/unsubscribe/[^"]*)"', body)}
    header = received["List-Unsubscribe"]
    assert re.fullmatch(r"<https?://[^>]+>", header)
    assert received["List-Unsubscribe-Post"] == ONE_CLICK
    return in_body, header[1:-1]


@pytest.mark.skipif(not importlib.util.find_spec("massmail.api"), reason="sending engine not yet built")
@pytest.mark.django_db(transaction=True)
def test_end_to_end_unsubscribe(smtp_server, thanks_url, settings):
    from massmail import api

    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(use_business_time=False)
    manager = UserFactory()
    ann, bob, eve = (ContactFactory(owner=manager) for _ in range(3))
    EmailAccountFactory(owner=manager, smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    message = MessageFactory(owner=manager)
    ours = Contact.objects.filter(owner=manager)

    first = api.create_mailing(owner=manager, message=message, recipients=[ours])
    api.activate(first)
    call_command("massmail_send", stdout=io.StringIO())
    received = {rcpt: m.message for m in smtp_server.messages for rcpt in m.rcpt_tos}
    assert set(received) == {ann.email, bob.email, eve.email}

    # A second mailing is running (active, nothing sent yet) while people unsubscribe.
    running = api.create_mailing(owner=manager, message=message, recipients=[ours])
    api.activate(running)

    ann_body_url, ann_header_url = unsubscribe_urls(received[ann.email])
    assert ann_body_url == ann_header_url
    ann_path = urlsplit(ann_body_url).path

    # Opening the link (a person, or a link scanner) changes nothing.
    assert Client().get(ann_path).status_code == 200
    ann.refresh_from_db()
    assert ann.massmail is True
    assert not Suppression.objects.exists()

    # The page's form: unsubscribes and redirects to the company's own page.
    response = browser_unsubscribe(ann_path)
    assert (response.status_code, response["Location"]) == (303, thanks_url)
    ann.refresh_from_db()
    assert ann.massmail is False
    assert Suppression.objects.get(email=ann.email).channel == Suppression.Channel.PAGE

    # The mail client's one-click button, with the header's URL.
    _, bob_header_url = unsubscribe_urls(received[bob.email])
    response = one_click(urlsplit(bob_header_url).path)
    assert response.status_code == 200
    bob.refresh_from_db()
    assert bob.massmail is False
    assert Suppression.objects.get(email=bob.email).channel == Suppression.Channel.ONE_CLICK

    # The rest of the running mailing skips them...
    skipped = dict(running.deliveries.filter(status=Delivery.Status.SKIPPED)
                   .values_list("email", "skip_reason"))
    assert skipped == {ann.email: "unsubscribed", bob.email: "unsubscribed"}
    already = len(smtp_server.messages)
    call_command("massmail_send", stdout=io.StringIO())
    assert [rcpt for m in smtp_server.messages[already:] for rcpt in m.rcpt_tos] == [eve.email]

    # ...and a new mailing leaves them out.
    fresh = api.create_mailing(owner=manager, message=message, recipients=[ours])
    assert set(fresh.deliveries.values_list("email", flat=True)) == {eve.email}
    assert sum(fresh.excluded.values()) == 2


def test_site_url_must_be_ascii(settings):
    from massmail.checks import site_url_ascii_check

    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "https://crm.bücher.example"}
    assert [e.id for e in site_url_ascii_check(None)] == ["massmail.E011"]
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "https://crm.xn--bcher-kva.example"}
    assert site_url_ascii_check(None) == []
