"""The demo as a new user meets it after `make run` (in a real browser): a seeded
manager walks from the contact list to a sent mailing, creating her first message on the
way, with no permission granted by hand; a superuser's settings page. Screenshots of the
count page and the settings page go to var/screenshots/."""

import re

import pytest

from example_project.demo import seed
from massmail.models import Mailing

from .test_browser_manager import SCREENSHOTS, TIMEOUT_MS, browser, engine_in_background  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTENT = ('<p>Hello {{ first_name }},</p><p>our autumn line is here.</p>'
           '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')


@pytest.fixture
def demo(smtp_server, settings):
    """The database as `make run` seeds it, the accounts on the test SMTP server."""
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    assert seed.seed_if_empty(smtp_port=smtp_server.port)


def log_in(page, base, username, next_url):
    page.goto(f"{base}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", username)
    page.click("input[type=submit]")


def test_demo_manager_walks_from_contacts_to_a_sent_mailing(live_server, browser, demo,  # noqa: F811
                                                           smtp_server):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, live_server.url, "anna", "/admin/crm/contact/")
    page.locator("#changelist-filter").get_by_role("link", name="Germany", exact=True).click()
    page.click("a.massmail-create-mailing")
    expect(page.locator("#massmail-origin")).to_contain_text("country: Germany")
    count = int(page.locator("#massmail-count").get_attribute("data-count"))
    assert count > 0

    # No message yet: create one, and come back to the count page.
    page.click("#massmail-add-message")
    page.fill("#id_subject", "Autumn news for {{ first_name }}")
    page.fill("#id_content", CONTENT)
    page.click("input[name=_save]")
    expect(page.locator("#massmail-origin")).to_contain_text("country: Germany")
    page.screenshot(path=SCREENSHOTS / "count-page-demo.png", full_page=True)
    page.select_option("#id_message", label="Autumn news for {{ first_name }}")
    page.fill("#id_name", "Germany autumn")
    page.click("input[name=_create]")

    expect(page.locator(".messagelist")).to_contain_text(f"with {count} recipient")
    page.select_option("#id_status", "active")
    page.click("input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/massmail/mailing/$"))
    mailing = Mailing.objects.get(name="Germany autumn")
    progress = page.locator(f'[data-massmail-mailing="{mailing.pk}"][data-massmail-field="progress"]')
    join = engine_in_background()
    try:
        expect(progress).to_contain_text("100% processed", timeout=TIMEOUT_MS)
    finally:
        join()
    expect(progress).to_contain_text(f"Delivered {count} of {count}")
    assert len({r for m in smtp_server.messages for r in m.rcpt_tos}) == count


def test_settings_page_of_the_demo(live_server, browser, demo):  # noqa: F811
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(TIMEOUT_MS)
    log_in(page, live_server.url, "admin", "/admin/massmail/massmailsettings/")
    expect(page.locator("select#id_time_zone")).to_be_visible()
    expect(page.locator("input[name=business_days]")).to_have_count(7)
    expect(page.locator("#id_company_name")).to_have_value("Demo Machines GmbH")
    page.screenshot(path=SCREENSHOTS / "settings-page.png", full_page=True)
