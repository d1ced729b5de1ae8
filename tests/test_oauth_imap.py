"""Reading a mailbox over XOAUTH2: ``imap_login`` against a real Dovecot whose oauth2
passdb asks the fake provider's introspection endpoint, with IMAPClient (the mailbox
reader's client). Expired tokens are refreshed, a refused one is not reused, and
password accounts still log in with their IMAP password."""

import datetime

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from massmail.oauth import tokens
from massmail.oauth.login import imap_login

from .dovecot_oauth import PASSWORD, read_subjects
from .factories import EmailAccountFactory

pytestmark = pytest.mark.django_db

REPORT = (b"From: MAILER-DAEMON@contoso.example\r\nTo: anna@contoso.example\r\n"
          b"Subject: Undelivered Mail Returned to Sender\r\n\r\nThe mail could not be delivered.\r\n")


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def client(dovecot):
    return IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)


def test_an_oauth_account_reads_its_mailbox_over_xoauth2_and_refreshes_expired_tokens(
        anna, oauth_dovecot, connected_account, oauth_provider):
    account = connected_account(anna, from_email="anna@contoso.example")
    oauth_dovecot.deliver("anna@contoso.example", REPORT)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        assert read_subjects(oauth_dovecot, account) == ["Subject: Undelivered Mail Returned to Sender"]
        assert read_subjects(oauth_dovecot, account)  # the cached token again
    assert oauth_provider.refreshes == 1
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=True):
        account.refresh_from_db()
        assert read_subjects(oauth_dovecot, account)
    assert oauth_provider.refreshes == 2


def test_a_token_dovecot_refuses_is_not_reused(anna, oauth_dovecot, connected_account, oauth_provider):
    account = connected_account(anna)
    tokens.access_token(account)
    oauth_provider.access_tokens.clear()
    with client(oauth_dovecot) as imap, pytest.raises(LoginError):
        imap_login(imap, account)
    assert cache.get(tokens._key(account)) is None
    assert read_subjects(oauth_dovecot, account) == []  # a new token works


def test_a_password_account_logs_in_with_its_imap_password(anna, oauth_dovecot):
    account = EmailAccountFactory(owner=anna, imap_user="anna", imap_password=PASSWORD)
    assert read_subjects(oauth_dovecot, account) == []
    account.imap_password = ""  # falls back to the SMTP password, which Dovecot refuses
    with client(oauth_dovecot) as imap, pytest.raises(LoginError):
        imap_login(imap, account)
