"""A Microsoft 365 mailbox from "Connect" to "reconnect this mailbox", in a real browser
(Debian's Chromium, driven by Playwright) against a live server and the fake provider:
the owner clicks "Connect", allows at the provider and comes back connected; a mailing
goes out over XOAUTH2; two hours later the expired access token is refreshed; feedback is
read over XOAUTH2 from a real Dovecot; then the grant is revoked, the account disabled
with the reason on its page, and the owner told once.

Screenshots go to var/screenshots/.
"""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from massmail.models import EmailAccount

from .conftest import make_manager, update_massmail_settings
from .dovecot_oauth import read_subjects
from .engine import contacts, send_all, start_mailing
from .factories import EmailAccountFactory
from .test_browser_manager import SCREENSHOTS, TIMEOUT_MS, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADDRESS = "anna@contoso.example"


@pytest.fixture
def anna_and_her_account(live_server, settings, oauth_provider, xoauth2_smtp):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": live_server.url,
                         "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(use_business_time=False)
    anna = make_manager("anna", password="anna-pw")
    account = EmailAccountFactory(owner=anna, name="Contoso", from_email=ADDRESS,
                                  auth_method="microsoft", smtp_host=xoauth2_smtp.host,
                                  smtp_port=xoauth2_smtp.port, smtp_user="", password="")
    return anna, account


def test_connect_send_refresh_read_and_revoke(
        live_server, browser, anna_and_her_account, oauth_provider, xoauth2_smtp,  # noqa: F811
        oauth_dovecot):
    from playwright.sync_api import expect

    anna, account = anna_and_her_account
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    change_page = f"{live_server.url}/admin/massmail/emailaccount/{account.pk}/change/"
    page.goto(f"{live_server.url}/admin/login/?next=/admin/massmail/emailaccount/{account.pk}/change/")
    page.fill("#id_username", "anna")
    page.fill("#id_password", "anna-pw")
    page.click("input[type=submit]")

    # "Connect" leads to the provider, which signs in the mailbox and sends the browser back.
    page.get_by_role("button", name=re.compile(r"^Connect")).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(oauth_provider.url)}/authorize\?"))
    expect(page.locator("#email")).to_have_value(ADDRESS)
    page.click("#allow")
    expect(page).to_have_url(change_page)
    expect(page.locator(".messagelist")).to_contain_text(f"is connected: it signs in as {ADDRESS}")
    expect(page.locator(".field-oauth_address")).to_contain_text(ADDRESS)
    expect(page.get_by_role("button", name="Connect again")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "oauth-connected.png", full_page=True)

    # A mailing goes out over XOAUTH2 with the access token of the connection.
    contacts(anna, 2)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        first = start_mailing(anna)
        send_all()
    assert set(first.deliveries.values_list("status", flat=True)) == {"sent"}
    assert [user for user, _token in xoauth2_smtp.handler.logins] == [ADDRESS]
    assert oauth_provider.refreshes == 0

    # Two hours later the token has expired: the next mailing refreshes it, and the
    # mailbox's feedback is read over XOAUTH2.
    oauth_dovecot.deliver(ADDRESS, b"Subject: Delivery Status Notification (Failure)\r\n\r\nGone.\r\n")
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=True):
        second = start_mailing(anna)
        send_all()
        assert read_subjects(oauth_dovecot, EmailAccount.objects.get(pk=account.pk)) == [
            "Subject: Delivery Status Notification (Failure)"]
    assert set(second.deliveries.values_list("status", flat=True)) == {"sent"}
    assert oauth_provider.refreshes == 1
    assert len({token for _user, token in xoauth2_smtp.handler.logins}) == 2

    # The user changes their password: the grant is gone, the account disabled.
    oauth_provider.revoke(ADDRESS)
    contacts(anna, 1)
    with time_machine.travel(start + datetime.timedelta(hours=4), tick=True):
        third = start_mailing(anna)
        send_all()
    assert set(third.deliveries.values_list("status", flat=True)) == {"pending"}
    page.goto(change_page)
    expect(page.locator(".field-state")).to_contain_text("reconnect this mailbox")
    page.screenshot(path=SCREENSHOTS / "oauth-disabled.png", full_page=True)
    about_accounts = [(m.to, m.subject) for m in mail.outbox if m.subject.startswith("Email account")]
    assert about_accounts == [([anna.email], f"Email account disabled: {account}")]
