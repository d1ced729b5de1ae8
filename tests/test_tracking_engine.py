"""Click tracking through the real engine and a real SMTP server: every recipient's
email carries links signed for their own delivery, the version's links were registered
once, the unsubscribe link and header are untouched, and a click of a received link is
recorded for the right delivery."""

import datetime

import lxml.html
import pytest
import time_machine

from massmail.models import Click, TrackedLink
from massmail.tracking import tokens

from .engine import contacts, send_all, start_mailing
from .factories import MessageFactory

pytestmark = pytest.mark.django_db

CONTENT = (
    "<html><body><p>Hi {{ first_name }}, see <a href=\"https://shop.example.com/?a=1&amp;b=2\">"
    "the shop</a> and <a href=\"https://shop.example.com/events\">events</a>.</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def test_each_email_carries_links_signed_for_its_own_delivery(
        smtp_server, always_open, account_on, anna, client, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "https://crm.example.com"}
    account_on(anna)
    contacts(anna, 5)
    message = MessageFactory(owner=anna, content=CONTENT, track_clicks=True)
    mailing = start_mailing(anna, message=message)
    send_all()

    assert TrackedLink.objects.filter(message=message).count() == 3  # two links, one honeypot
    deliveries = {d.email: d for d in mailing.deliveries.all()}
    assert len(smtp_server.messages) == 5
    for received in smtp_server.messages:
        delivery = deliveries[received.rcpt_tos[0]]
        parsed = received.message
        html_part = parsed.get_body(("html",)).get_content()
        hrefs = lxml.html.fromstring(html_part).xpath("//a/@href")
        tracked = [href for href in hrefs if "/massmail/c/" in href]
        assert len(tracked) == 3
        for href in tracked:
            token = href.split("/massmail/c/")[1].split("/")[0]
            assert tokens.read_token(token) == delivery.pk
        unsubscribe = [href for href in hrefs if "/massmail/unsubscribe/" in href]
        assert unsubscribe == [parsed["List-Unsubscribe"].strip("<>")]
        assert "https://shop.example.com/?a=1&b=2" in parsed.get_body(("plain",)).get_content()

    # A person clicks the first link of one email an hour later.
    received = smtp_server.messages[0]
    delivery = deliveries[received.rcpt_tos[0]]
    href = [h for h in lxml.html.fromstring(received.message.get_body(("html",)).get_content())
            .xpath("//a/@href") if "/massmail/c/" in h][1]
    path = href.removeprefix("https://crm.example.com")
    assert path.startswith("/massmail/c/")
    with time_machine.travel(delivery.sent_at + datetime.timedelta(hours=1), tick=False):
        response = client.get(path, HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) "
                              "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
    assert response["Location"] == "https://shop.example.com/?a=1&b=2"
    assert list(Click.objects.values_list("delivery_id", "human")) == [(delivery.pk, True)]
