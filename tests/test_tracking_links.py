"""Click tracking at prepare time: links rewritten once per message version, in the HTML
part only; the unsubscribe link, mailto:, tel:, anchors and per-recipient links left as
written; entities and query strings kept; a hidden honeypot link in every tracked email;
per recipient only the signed token is put in."""

import re

import lxml.html
import pytest
from django.core import signing

from massmail import rendering
from massmail.models import TrackedLink
from massmail.tracking import tokens

from .factories import MessageFactory
from .test_rendering import bodies, build, parse

pytestmark = pytest.mark.django_db

SITE = "https://crm.example.com"
CONTENT = (
    "<html><head><style>a { color: #06c; }</style></head><body>"
    "<p>Hello {{ first_name }} &amp; friends &eacute;t&eacute; &#169;</p>"
    '<p><a href="https://shop.example.com/offer?utm_source=news&amp;utm_medium=email#top" '
    'class="button">Our offer</a></p>'
    '<p><a href="http://example.org/plain">Plain</a> and '
    "<a href='https://example.org/single'>single</a></p>"
    '<p><a href="mailto:sales@example.com">Write</a> <a href="tel:+4930123">Call</a> '
    '<a href="#section">Jump</a> <a href="/relative">Relative</a> <a name="x">no href</a></p>'
    '<p><a href="https://example.org/u?id={{ email }}">Your page</a></p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)
UNSUBSCRIBE = "https://crm.example.com/massmail/unsubscribe/MTIz:1abc/"
CLICK = re.compile(r"https://crm\.example\.com/massmail/c/([^/\"]+)/(\d+)/")


@pytest.fixture
def tracked(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": SITE}
    return MessageFactory(content=CONTENT, track_clicks=True)


def html_of(prepared, delivery_id=7):
    context = rendering.recipient_context({"first_name": "Ann"}, email="ann@example.org",
                                          unsubscribe_url=UNSUBSCRIBE, postal_address="",
                                          delivery_id=delivery_id)
    return bodies(parse(build(prepared, context, unsubscribe_url=UNSUBSCRIBE)))


def test_links_are_rewritten_to_stored_urls_with_a_signed_token(tracked):
    text, html_part = html_of(rendering.prepare(tracked), delivery_id=7)
    links = TrackedLink.objects.filter(message=tracked).order_by("position")
    assert [(link.url, link.honeypot) for link in links] == [
        ("https://shop.example.com/offer?utm_source=news&utm_medium=email#top", False),
        ("http://example.org/plain", False),
        ("https://example.org/single", False),
        (SITE + "/", True),
    ]
    hrefs = lxml.html.fromstring(html_part).xpath("//a/@href")
    tracked_hrefs = [href for href in hrefs if CLICK.match(href)]
    assert len(tracked_hrefs) == 4  # three links and the honeypot
    for href in tracked_hrefs:
        token, link_id = CLICK.match(href).groups()
        assert tokens.read_token(token) == 7
        assert int(link_id) in {link.pk for link in links}
    # The honeypot comes first and is hidden.
    first = lxml.html.fromstring(html_part).xpath("//a")[0]
    assert int(CLICK.match(first.get("href"))[2]) == links.get(honeypot=True).pk
    assert "display:none" in first.get("style") and first.get("aria-hidden") == "true"
    # The text part keeps the real links and shows no honeypot.
    assert "https://shop.example.com/offer?utm_source=news&utm_medium=email#top" in text
    assert "/massmail/c/" not in text


def test_untracked_links_stay_exactly_as_written(tracked):
    _text, html_part = html_of(rendering.prepare(tracked))
    for kept in ('href="mailto:sales@example.com"', 'href="tel:+4930123"', 'href="#section"',
                 'href="/relative"', 'name="x"', 'href="https://example.org/u?id=ann@example.org"',
                 f'href="{UNSUBSCRIBE}"', 'class="button"'):
        assert kept in html_part
    # Entities of the text stay as premailer wrote them; the href's &amp; too.
    assert "&amp; friends" in html_part
    assert html_part.count("Our offer") == 1


def test_per_recipient_only_the_token_differs(tracked):
    prepared = rendering.prepare(tracked)
    _text, first = html_of(prepared, delivery_id=1)
    _text, second = html_of(prepared, delivery_id=2)
    one = tokens.make_token(1)
    two = tokens.make_token(2)
    assert first.replace(one, "T") == second.replace(two, "T")


def test_preview_links_carry_no_valid_token(tracked):
    _text, html_part = html_of(rendering.prepare(tracked), delivery_id=None)
    token = CLICK.search(html_part)[1]
    assert token == tokens.PREVIEW_TOKEN
    with pytest.raises(signing.BadSignature):
        tokens.read_token(token)


def test_links_are_registered_once_per_version(tracked, monkeypatch):
    prepared = rendering.prepare(tracked)
    ids = set(TrackedLink.objects.values_list("pk", flat=True))
    # Another process (an empty cache) preparing the same version gets the same links.
    monkeypatch.setattr(rendering, "_cache", type(rendering._cache)())
    again = rendering.prepare(tracked)
    assert again is not prepared
    assert set(TrackedLink.objects.values_list("pk", flat=True)) == ids
    assert html_of(again)[1] == html_of(prepared)[1]

    tracked.content = tracked.content.replace("https://example.org/single", "https://example.org/new")
    tracked.save()
    rendering.prepare(tracked)
    versions = set(TrackedLink.objects.values_list("version", flat=True))
    assert len(versions) == 2
    assert TrackedLink.objects.filter(url="https://example.org/new").count() == 1


def test_tracking_off_rewrites_nothing(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": SITE}
    message = MessageFactory(content=CONTENT)
    _text, html_part = html_of(rendering.prepare(message))
    assert "/massmail/c/" not in html_part
    assert 'href="https://shop.example.com/offer?utm_source=news&amp;utm_medium=email#top"' in html_part
    assert not TrackedLink.objects.exists()
