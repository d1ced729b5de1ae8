"""Reading a mailbox over XOAUTH2: ``imap_login`` against a real Dovecot whose oauth2
passdb asks the fake provider's introspection endpoint, with IMAPClient (the mailbox
reader's client). Expired tokens are refreshed, a refused one is not reused, and
password accounts still log in with their IMAP password."""

import datetime
import os

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from massmail.oauth import tokens
from massmail.oauth.login import imap_login

from .conftest import need_service
from .dovecot_oauth import DOVECOT, PASSWORD, Dovecot
from .factories import EmailAccountFactory

pytestmark = pytest.mark.django_db

REPORT = (b"From: MAILER-DAEMON@contoso.example\r\nTo: anna@contoso.example\r\n"
          b"Subject: Undelivered Mail Returned to Sender\r\n\r\nThe mail could not be delivered.\r\n")


@pytest.fixture
def dovecot(oauth_provider):
    need_service("Dovecot", os.path.exists(DOVECOT), f"needs Debian's dovecot-imapd ({DOVECOT})")
    need_service("root", os.geteuid() == 0, "a private Dovecot serving other users' mail needs root")
    server = Dovecot(oauth_provider.url).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def client(dovecot):
    return IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)


def read_subjects(dovecot, account):
    with client(dovecot) as imap:
        imap_login(imap, account)
        imap.select_folder("INBOX", readonly=True)
        messages = imap.fetch(imap.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return [data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for data in messages.values()]


def test_an_oauth_account_reads_its_mailbox_over_xoauth2_and_refreshes_expired_tokens(
        anna, dovecot, connected_account, oauth_provider):
    account = connected_account(anna, from_email="anna@contoso.example")
    dovecot.deliver("anna@contoso.example", REPORT)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        assert read_subjects(dovecot, account) == ["Subject: Undelivered Mail Returned to Sender"]
        assert read_subjects(dovecot, account)  # the cached token again
    assert oauth_provider.refreshes == 1
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=True):
        account.refresh_from_db()
        assert read_subjects(dovecot, account)
    assert oauth_provider.refreshes == 2


def test_a_token_dovecot_refuses_is_not_reused(anna, dovecot, connected_account, oauth_provider):
    account = connected_account(anna)
    tokens.access_token(account)
    oauth_provider.access_tokens.clear()
    with client(dovecot) as imap, pytest.raises(LoginError):
        imap_login(imap, account)
    assert cache.get(tokens._key(account)) is None
    assert read_subjects(dovecot, account) == []  # a new token works


def test_a_password_account_logs_in_with_its_imap_password(anna, dovecot):
    account = EmailAccountFactory(owner=anna, imap_user="anna", imap_password=PASSWORD)
    assert read_subjects(dovecot, account) == []
    account.imap_password = ""  # falls back to the SMTP password, which Dovecot refuses
    with client(dovecot) as imap, pytest.raises(LoginError):
        imap_login(imap, account)
