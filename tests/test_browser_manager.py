"""A sales manager's whole path in a real browser (Debian's Chromium, driven by
Playwright) against a live server: log in, filter the contact list, "Create mailing",
confirm on the count page, see the preview, activate, and watch the list page's
progress bar reach 100% while the in-process engine sends, without reloading.

Screenshots of the count page, the preview and the list page go to var/screenshots/.
"""

import os
import re
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections

from massmail.models import Mailing
from massmail.sending.runner import run

from .conftest import make_manager, need_service, update_massmail_settings
from .factories import CompanyFactory, ContactFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(django_settings.VAR_DIR) / "screenshots"
# Generous: the page polls every few seconds, and CI machines are slow.
TIMEOUT_MS = 60_000


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium. Playwright's sync API runs an event loop in this thread, so
    Django's guard against ORM calls from async code is lifted for the test.

    While that loop runs, Django keeps the thread's database connections per context,
    as for async code: the test's ORM calls open connections of their own, which are
    closed here, or PostgreSQL would refuse to drop the test database in use.
    """
    need_service("Chromium", os.path.exists(CHROMIUM), f"needs Debian's {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        connections.close_all()


@pytest.fixture
def crm(account_on, settings):
    """Anna's and Ben's contacts in Germany and France, Anna's message and account."""
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(use_business_time=False,
                             unsubscribe_url="https://crm.example.com/unsubscribed/")
    anna = make_manager("anna", password="anna-pw")
    ben = UserFactory(username="ben")
    germany = CompanyFactory(owner=anna, name="Maschinen GmbH", country="Germany")
    france = CompanyFactory(owner=anna, name="Machines SA", country="France")
    for first_name in ("Greta", "Hugo", "Ines", "Jonas"):
        ContactFactory(owner=anna, company=germany, first_name=first_name)
    ContactFactory(owner=anna, company=germany, massmail=False)  # opted out in the CRM
    ContactFactory.create_batch(2, owner=ben, company=germany)
    ContactFactory.create_batch(3, owner=anna, company=france)
    MessageFactory(owner=anna, subject="Autumn news for {{ first_name }}")
    account_on(anna)
    return anna


def engine_in_background():
    """Start ``runner.run`` in a thread; returns a function that waits for it.

    With SQLite's in-memory test database the thread shares the test's connection, as
    Django's live server threads do: a second connection would see the database only
    through SQLite's shared cache, whose table locks fail instead of waiting.
    """
    main = connections["default"]
    shared = main if main.vendor == "sqlite" and main.is_in_memory_db() else None
    if shared is not None:
        shared.inc_thread_sharing()
    errors = []

    def work():
        if shared is not None:
            connections["default"] = shared
        try:
            run()
        except Exception as exc:  # reported in the test thread
            errors.append(exc)
        finally:
            if shared is None:
                connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def join():
        thread.join(timeout=TIMEOUT_MS / 1000)
        assert not thread.is_alive(), "the engine did not finish"
        if shared is not None:
            shared.dec_thread_sharing()
        assert errors == []

    return join


def test_manager_creates_previews_activates_and_watches_a_mailing(
        live_server, browser, crm, smtp_server):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)

    # Log in and filter the contact list by country.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/crm/contact/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "anna-pw")
    page.click("input[type=submit]")
    page.locator("#changelist-filter").get_by_role("link", name="Germany", exact=True).click()
    expect(page).to_have_url(re.compile(r"company__country=Germany"))

    # "Create mailing" takes every contact matching the filter; the page counts them.
    page.click("a.massmail-create-mailing")
    expect(page.locator("#massmail-count")).to_have_attribute("data-count", "4")
    # Ben's contacts are not on Anna's list at all (the CRM shows each manager their own).
    excluded = page.locator("#massmail-excluded tbody tr")
    expect(excluded).to_have_count(1)
    expect(excluded.filter(has_text="Not subscribed in the CRM")).to_contain_text("1")
    expect(page.locator("#massmail-origin")).to_contain_text("country: Germany")
    page.screenshot(path=SCREENSHOTS / "count-page.png", full_page=True)

    page.select_option("#id_message", label="Autumn news for {{ first_name }}")
    with page.expect_navigation():
        page.check("#id_skip_already_received")  # the page counts again by itself
    expect(page.locator("#id_skip_already_received")).to_be_checked()
    expect(page.locator("#massmail-count")).to_have_attribute("data-count", "4")
    page.fill("#id_name", "Germany autumn")
    page.click("input[name=_create]")

    # The paused mailing's change page: save and continue, and see the preview.
    expect(page.locator(".messagelist")).to_contain_text("with 4 recipients")
    mailing = Mailing.objects.get()
    assert (mailing.owner, mailing.status, mailing.deliveries.count()) == (crm, "paused", 4)
    page.click("input[name=_continue]")
    expect(page.locator(".massmail-preview-subject")).to_have_text(
        re.compile(r"Autumn news for (Greta|Hugo|Ines|Jonas)"))
    expect(page.frame_locator("iframe.massmail-preview-html").locator("body")).to_contain_text("Hello")
    expect(page.locator(".massmail-preview-text")).to_contain_text("/massmail/unsubscribe/")
    page.screenshot(path=SCREENSHOTS / "preview.png", full_page=True)

    # Activate: "Save" lands on the mailing list, which then updates itself.
    page.select_option("#id_status", "active")
    page.click("input[name=_save]")
    expect(page).to_have_url(re.compile(r"/admin/massmail/mailing/$"))
    progress = page.locator(f'[data-massmail-mailing="{mailing.pk}"][data-massmail-field="progress"]')
    expect(progress).to_contain_text("0% processed")
    page.evaluate("window.massmailNotReloaded = true")

    join = engine_in_background()
    try:
        expect(progress).to_contain_text("100% processed", timeout=TIMEOUT_MS)
    finally:
        join()  # an engine failure explains a bar that never got there
    expect(progress).to_contain_text("Delivered 4 of 4")
    status = page.locator(f'[data-massmail-mailing="{mailing.pk}"][data-massmail-field="status"]')
    expect(status).to_have_text("done")
    assert page.evaluate("window.massmailNotReloaded") is True
    page.screenshot(path=SCREENSHOTS / "mailing-list.png", full_page=True)

    assert sorted(r for m in smtp_server.messages for r in m.rcpt_tos) == sorted(
        mailing.deliveries.values_list("email", flat=True))
