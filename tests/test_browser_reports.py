"""The report pages in a real browser (Debian's Chromium, driven by Playwright) after a
mailing with click tracking on was sent by the engine and its links were followed by
people (hours later, with a browser's user agent) and by scanners (at once, a crawler,
a prefetch, the hidden honeypot link).

The manager opens the report from the mailing list, sees the funnel, the chart of sends
and clicks and the link table, then the overview. The pages must load nothing from
outside the live server (no CDN: it works offline), and the report must run under a
strict Content-Security-Policy without a violation. Screenshots go to var/screenshots/.
"""

import datetime
import re

import lxml.html
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from example_project.crm.models import Contact
from massmail import api
from massmail.models import Click, Delivery, Mailing
from massmail.sending.runner import run
from massmail.unsubscribe import unsubscribe

from .conftest import make_manager, update_massmail_settings
from .factories import CompanyFactory, ContactFactory, MessageFactory
from .test_browser_manager import SCREENSHOTS, TIMEOUT_MS, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERSON = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like "
          "Gecko) Version/17.1 Safari/605.1.15")
# Gateways pretend to be browsers; what gives them away is when and how they click.
SCANNER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")
STRICT_CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
              "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'")
CONTENT = (
    "<html><body><p>Hello {{ first_name }},</p>"
    '<p>See <a href="{site}/static/massmail/reports.css?utm_source=news&amp;utm_medium=email">'
    "our autumn offer</a>, the <a href=\"{site}/static/massmail/progress.css\">price list</a> "
    'and <a href="{site}/static/massmail/progress.js">the events</a>.</p>'
    '<p><a href="mailto:sales@example.com">Write to us</a></p>'
    '<p><a href="{{{{ unsubscribe_url }}}}">Unsubscribe</a></p></body></html>'
)


@pytest.fixture
def sent_mailing(live_server, account_on, settings):
    """Anna's mailing to eight contacts, tracking on, sent by the engine."""
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False,
                         "SITE_URL": live_server.url}
    update_massmail_settings(use_business_time=False,
                             unsubscribe_url="https://crm.example.com/unsubscribed/")
    anna = make_manager("anna", password="anna-pw")
    company = CompanyFactory(owner=anna, name="Maschinen GmbH")
    for first_name in ("Greta", "Hugo", "Ines", "Jonas", "Karl", "Lena", "Mia", "Nils"):
        ContactFactory(owner=anna, company=company, first_name=first_name)
    message = MessageFactory(owner=anna, subject="Autumn offer for {{ first_name }}",
                             content=CONTENT.format(site=live_server.url), track_clicks=True)
    account_on(anna)
    mailing = api.create_mailing(owner=anna, message=message, name="Autumn offer",
                                 recipients=[Contact.objects.filter(owner=anna)])
    api.activate(mailing)
    run()
    assert set(mailing.deliveries.values_list("status", flat=True)) == {Delivery.Status.SENT}
    return mailing


def click_links(smtp_server):
    """{recipient: [tracked URLs of their email, the hidden one first]}."""
    links = {}
    for received in smtp_server.messages:
        html_part = received.message.get_body(("html",)).get_content()
        links[received.rcpt_tos[0]] = [
            href for href in lxml.html.fromstring(html_part).xpath("//a/@href") if "/massmail/c/" in href]
    return links


def simulate_clicks(mailing, links):
    """People click hours later; scanners at once, by crawler, prefetch and honeypot."""
    client = Client()
    sent_at = mailing.deliveries.order_by("sent_at").values_list("sent_at", flat=True).first()
    people, scanned = list(links)[:5], list(links)[5:]
    for hours, address in enumerate(people, start=1):
        with time_machine.travel(sent_at + datetime.timedelta(hours=hours, minutes=7), tick=False):
            client.get(links[address][1], HTTP_USER_AGENT=PERSON)
            if hours % 2:
                client.get(links[address][2], HTTP_USER_AGENT=PERSON)
    # Gateways follow every link, the hidden one too: one on arrival, one 40 s later.
    for address, delay in ((scanned[0], 3), (scanned[1], 40)):
        with time_machine.travel(sent_at + datetime.timedelta(seconds=delay), tick=False):
            for url in links[address]:
                client.get(url, HTTP_USER_AGENT=SCANNER)
    with time_machine.travel(sent_at + datetime.timedelta(hours=2), tick=False):
        client.head(links[scanned[2]][1], HTTP_USER_AGENT=SCANNER)  # a link preview
        client.get(links[scanned[2]][3], HTTP_USER_AGENT="python-requests/2.31")
    # Mailbox feedback, as the mailbox reader records it, and an unsubscribe.
    deliveries = list(mailing.deliveries.order_by("pk"))
    now = timezone.now()
    Delivery.objects.filter(pk=deliveries[0].pk).update(replied_at=now)
    Delivery.objects.filter(pk=deliveries[1].pk).update(auto_replied_at=now)
    Delivery.objects.filter(pk=deliveries[7].pk).update(bounce=Delivery.Bounce.HARD, bounced_at=now)
    unsubscribe(deliveries[6].email, mailing=mailing, channel="page")


def with_strict_csp(route):
    response = route.fetch()
    route.fulfill(response=response,
                  headers={**response.headers, "content-security-policy": STRICT_CSP})


def test_report_and_overview_with_real_charts(live_server, browser, sent_mailing,  # noqa: F811
                                              smtp_server):
    from playwright.sync_api import expect

    simulate_clicks(sent_mailing, click_links(smtp_server))
    assert Click.objects.filter(human=True).count() == 8
    assert set(Click.objects.filter(human=False).values_list("reason", flat=True)) == {
        "too_soon", "honeypot", "prefetch", "crawler"}

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    outside = []
    page.on("request", lambda request: request.url.startswith(live_server.url)
            or outside.append(request.url))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/massmail/mailing/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "anna-pw")
    page.click("input[type=submit]")

    # The report must work under a strict Content-Security-Policy: nothing inline, nothing
    # from elsewhere. The live server sends none, so the browser is given one.
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text
            and violations.append(message.text))
    page.route(re.compile(r".*/report/$"), with_strict_csp)
    page.get_by_role("link", name="Report", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Autumn offer")
    funnel = page.locator("#massmail-funnel")
    expect(funnel.locator('[data-figure="sent"]')).to_contain_text("8")
    expect(funnel.locator('[data-figure="delivered"]')).to_contain_text("7")
    expect(funnel.locator('[data-figure="clicked"]')).to_contain_text("5")
    expect(funnel.locator('[data-figure="clicked"]')).to_contain_text("71.4%")  # 5 of 7 delivered
    expect(funnel.locator('[data-figure="unsubscribed"]')).to_contain_text("1")
    chart = page.locator("svg.massmail-chart")
    expect(chart).to_have_attribute("role", "img")
    assert chart.locator("rect").count() > 3 and chart.locator("polyline").count() == 2
    links = page.locator("#massmail-links tbody tr")
    expect(links.first).to_contain_text("reports.css?utm_source=news&utm_medium=email")
    expect(links.filter(has_text="Hidden link")).to_contain_text("2")
    page.locator(".massmail-chart-data summary").click()
    expect(page.locator(".massmail-chart-data table")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "mailing-report.png", full_page=True)
    assert violations == []

    # The figure opens the deliveries behind it.
    with page.expect_navigation():
        funnel.locator('[data-figure="clicked"] a').click()
    expect(page).to_have_url(re.compile(r"outcome=clicked"))
    expect(page.locator("#result_list tbody tr")).to_have_count(5)

    page.goto(f"{live_server.url}/admin/massmail/mailing/overview/")
    expect(page.locator("#massmail-overview")).to_contain_text("Autumn offer")
    expect(page.locator("svg.massmail-chart")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS / "mailing-overview.png", full_page=True)
    assert outside == []
    assert Mailing.objects.get().status == Mailing.Status.DONE
