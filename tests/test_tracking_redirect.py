"""The tracked-link redirect and the human or machine verdict of every click.

The redirect always answers 302 to the stored URL of the link id (no open redirect),
404 for an unknown id, and records nothing for a forged token or a delivery of another
message. Each machine rule is shown on its own, with the clock pinned.
"""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from massmail import rendering
from massmail.models import Click, Delivery, TrackedLink
from massmail.signals import link_clicked
from massmail.tracking import tokens

from .factories import DeliveryFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
SENT = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
LATER = SENT + datetime.timedelta(minutes=30)
CONTENT = (
    "<html><body>"
    '<p><a href="https://shop.example.com/a?x=1&amp;y=2">A</a></p>'
    '<p><a href="https://shop.example.com/b">B</a></p>'
    '<p><a href="https://shop.example.com/c">C</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


@pytest.fixture
def mailing():
    message = MessageFactory(content=CONTENT, track_clicks=True)
    rendering.prepare(message)
    return MailingFactory(owner=message.owner, message=message)


@pytest.fixture
def delivery(mailing):
    return DeliveryFactory(mailing=mailing, status=Delivery.Status.SENT, sent_at=SENT)


@pytest.fixture
def links(mailing):
    """{"a", "b", "c", "honeypot"}: the TrackedLink rows of the message."""
    rows = TrackedLink.objects.filter(message=mailing.message).order_by("position")
    return dict(zip(["a", "b", "c", "honeypot"], rows, strict=True))


@pytest.fixture
def signals():
    received = []

    def receiver(sender, delivery, url, human, **kwargs):
        received.append((delivery.pk, url, human))

    link_clicked.connect(receiver)
    yield received
    link_clicked.disconnect(receiver)


def click(client, delivery, link, *, method="get", user_agent=BROWSER, token=None, **headers):
    url = reverse("massmail:click", kwargs={
        "token": token or tokens.make_token(delivery.pk), "link_id": link.pk})
    return getattr(client, method)(url, HTTP_USER_AGENT=user_agent, **headers)


def verdicts(delivery):
    return list(Click.objects.filter(delivery=delivery).order_by("pk")
                .values_list("link__url", "human", "reason"))


def test_a_human_click_redirects_to_the_stored_url_and_is_recorded(
        client, delivery, links, signals, django_capture_on_commit_callbacks):
    with time_machine.travel(LATER, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = click(client, delivery, links["a"])
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/a?x=1&y=2"
    assert response["Referrer-Policy"] == "no-referrer"
    assert verdicts(delivery) == [("https://shop.example.com/a?x=1&y=2", True, "")]
    assert signals == [(delivery.pk, "https://shop.example.com/a?x=1&y=2", True)]
    click_row = Click.objects.get()
    assert not {"ip", "user_agent", "address"} & {f.name for f in Click._meta.get_fields()}
    assert click_row.clicked_at == LATER


def test_no_open_redirect_the_target_is_only_ever_the_stored_url(client, delivery, links):
    url = reverse("massmail:click", kwargs={"token": tokens.make_token(delivery.pk),
                                            "link_id": links["b"].pk})
    response = client.get(url + "?next=https://evil.example/&url=https://evil.example/",
                          HTTP_USER_AGENT=BROWSER)
    assert response["Location"] == "https://shop.example.com/b"


def test_unknown_link_id_is_404_and_records_nothing(client, delivery, links):
    url = reverse("massmail:click", kwargs={"token": tokens.make_token(delivery.pk),
                                            "link_id": 999999})
    assert client.get(url, HTTP_USER_AGENT=BROWSER).status_code == 404
    assert not Click.objects.exists()


@pytest.mark.parametrize("token", [
    "7:forged", "garbage", tokens.PREVIEW_TOKEN,
    # Signed, but for unsubscribing: another salt.
    "unsubscribe-token",
])
def test_forged_tokens_still_redirect_and_record_nothing(client, delivery, links, token, signals):
    if token == "unsubscribe-token":
        from massmail.tokens import make_token
        token = make_token(delivery.pk, delivery.email, delivery.mailing_id)
    with time_machine.travel(LATER, tick=False):
        response = click(client, delivery, links["a"], token=token)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/a?x=1&y=2"
    assert not Click.objects.exists()
    assert signals == []


def test_a_token_of_another_messages_delivery_records_nothing(client, links):
    stranger = DeliveryFactory(status=Delivery.Status.SENT, sent_at=SENT)
    with time_machine.travel(LATER, tick=False):
        response = click(client, stranger, links["a"])
    assert response["Location"] == "https://shop.example.com/a?x=1&y=2"
    assert not Click.objects.exists()


# --- machine rules --------------------------------------------------------------------


def test_head_requests_are_machine(client, delivery, links):
    with time_machine.travel(LATER, tick=False):
        assert click(client, delivery, links["a"], method="head").status_code == 302
    assert verdicts(delivery)[0][1:] == (False, "prefetch")


@pytest.mark.parametrize("header", [
    {"HTTP_SEC_PURPOSE": "prefetch"}, {"HTTP_PURPOSE": "prefetch"},
    {"HTTP_X_MOZ": "prefetch"}, {"HTTP_X_PURPOSE": "preview"},
])
def test_prefetches_are_machine(client, delivery, links, header):
    with time_machine.travel(LATER, tick=False):
        click(client, delivery, links["a"], **header)
    assert verdicts(delivery)[0][1:] == (False, "prefetch")


def test_a_click_within_the_minimum_seconds_of_sending_is_machine(client, delivery, links, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "CLICK_MIN_SECONDS": 10}
    with time_machine.travel(SENT + datetime.timedelta(seconds=9), tick=False):
        click(client, delivery, links["a"])
    with time_machine.travel(SENT + datetime.timedelta(seconds=11), tick=False):
        click(client, delivery, links["b"])
    assert [v[1:] for v in verdicts(delivery)] == [(False, "too_soon"), (True, "")]


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.31.0",
    "Barracuda Sentinel (EE)",
    "",
])
def test_crawler_user_agents_are_machine(client, delivery, links, user_agent):
    with time_machine.travel(LATER, tick=False):
        click(client, delivery, links["a"], user_agent=user_agent)
    assert verdicts(delivery)[0][1:] == (False, "crawler")


def test_the_honeypot_marks_the_whole_visit_machine(client, delivery, links, signals,
                                                   django_capture_on_commit_callbacks):
    with time_machine.travel(LATER, tick=False) as clock, \
            django_capture_on_commit_callbacks(execute=True):
        click(client, delivery, links["a"])
        clock.shift(5)
        assert click(client, delivery, links["honeypot"])["Location"].endswith("/")
        clock.shift(5)
        click(client, delivery, links["b"])
        clock.shift(3600)  # a later visit is the person's
        click(client, delivery, links["c"])
    assert [v[1:] for v in verdicts(delivery)] == [
        (False, "honeypot"), (False, "honeypot"), (False, "honeypot"), (True, "")]
    # The honeypot itself is never reported to the host.
    assert [human for _pk, _url, human in signals] == [True, False, True]


def test_many_links_within_two_seconds_are_machine(client, delivery, links, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "CLICK_BURST_LINKS": 3, "CLICK_BURST_SECONDS": 2}
    with time_machine.travel(LATER, tick=False) as clock:
        click(client, delivery, links["a"])
        clock.shift(0.5)
        click(client, delivery, links["b"])
        clock.shift(0.5)
        click(client, delivery, links["c"])
        clock.shift(60)
        click(client, delivery, links["a"])
    assert [v[1:] for v in verdicts(delivery)] == [
        (False, "burst"), (False, "burst"), (False, "burst"), (True, "")]


def test_the_same_link_twice_or_two_links_slowly_are_human(client, delivery, links):
    with time_machine.travel(LATER, tick=False) as clock:
        click(client, delivery, links["a"])
        clock.shift(0.5)
        click(client, delivery, links["a"])
        clock.shift(5)
        click(client, delivery, links["b"])
    assert all(human for _url, human, _reason in verdicts(delivery))


def test_a_delivery_not_recorded_as_sent_is_too_soon(client, mailing, links):
    pending = DeliveryFactory(mailing=mailing)
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1), tick=False):
        click(client, pending, links["a"])
    assert verdicts(pending)[0][1:] == (False, "too_soon")
