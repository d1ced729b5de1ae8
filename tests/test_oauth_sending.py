"""Sending over XOAUTH2: a mailing through a connected Microsoft 365 account reaches an
SMTP server that accepts only the fake provider's current access token; the token is
cached encrypted, refreshed when it expires (the rotated refresh token stored at once),
and a revoked grant disables the account and tells its owner once, failing no recipient.
"""

import base64
import datetime

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from massmail import crypto
from massmail.models import Delivery, EmailAccount
from massmail.oauth import tokens
from massmail.oauth.xoauth2 import auth_string

from .conftest import in_threads
from .engine import contacts, send_all, start_mailing

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_xoauth2_string_is_the_one_providers_document():
    wire = base64.b64encode(auth_string("anna@contoso.example", "ya29.token").encode()).decode()
    assert wire == "dXNlcj1hbm5hQGNvbnRvc28uZXhhbXBsZQFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE="


def sent_statuses(mailing):
    return sorted(mailing.deliveries.values_list("status", flat=True))


def test_a_mailing_goes_out_over_xoauth2_and_the_token_is_refreshed_when_it_expires(
        anna, always_open, connected_account, oauth_provider, xoauth2_smtp):
    account = connected_account(anna)
    first_refresh_token = account.oauth_refresh_token
    contacts(anna, 3)
    start = timezone.now()
    with time_machine.travel(start, tick=True):
        mailing = start_mailing(anna)
        send_all()
    assert sent_statuses(mailing) == ["sent"] * 3
    assert {user for user, _token in xoauth2_smtp.handler.logins} == {account.from_email}
    first_token = xoauth2_smtp.handler.logins[-1][1]
    assert oauth_provider.refreshes == 1
    # Microsoft rotates refresh tokens: the new one is stored at once.
    account.refresh_from_db()
    assert account.oauth_refresh_token != first_refresh_token
    assert account.oauth_refresh_token == oauth_provider.refresh_token_of(account.from_email)

    # Two hours later the access token has expired; the next batch gets a new one.
    with time_machine.travel(start + datetime.timedelta(hours=2), tick=True):
        contacts(anna, 2)
        second = start_mailing(anna)
        send_all()
        assert oauth_provider.owner_of(first_token) is None
    assert sent_statuses(second) == ["sent"] * 5  # the first three and two new contacts
    assert oauth_provider.refreshes == 2
    assert xoauth2_smtp.handler.logins[-1][1] != first_token
    assert xoauth2_smtp.handler.refused == []


def test_the_access_token_is_cached_encrypted_and_reused(anna, connected_account, oauth_provider):
    account = connected_account(anna)
    token = tokens.access_token(account)
    assert tokens.access_token(account) == token
    assert oauth_provider.refreshes == 1
    stored = cache.get(tokens._key(account))
    assert token not in stored
    assert token in crypto.decrypt(stored)


def test_a_revoked_grant_disables_the_account_and_tells_the_owner_once(
        anna, always_open, connected_account, oauth_provider, xoauth2_smtp):
    account = connected_account(anna)
    contacts(anna, 3)
    oauth_provider.revoke(account.from_email)
    mailing = start_mailing(anna)
    send_all()
    send_all()
    account.refresh_from_db()
    assert account.disabled_at is not None
    assert "reconnect this mailbox" in account.disabled_reason
    assert "AADSTS50173" in account.disabled_reason
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([anna.email], f"Email account disabled: {account}")]
    assert "reconnect this mailbox" in mail.outbox[0].body
    # An account problem: no recipient failed, every row waits.
    assert sent_statuses(mailing) == ["pending"] * 3
    assert xoauth2_smtp.messages == []
    # A second worker hitting the same grant does not tell the owner again.
    with pytest.raises(tokens.ReconnectNeeded):
        tokens.access_token(EmailAccount.objects.get(pk=account.pk))
    assert len(mail.outbox) == 1


def test_a_token_the_server_refuses_is_an_account_problem_and_is_not_reused(
        anna, always_open, connected_account, oauth_provider, xoauth2_smtp):
    account = connected_account(anna)
    contacts(anna, 2)
    token = tokens.access_token(account)
    oauth_provider.access_tokens.clear()  # the server no longer accepts it (e.g. revoked)
    mailing = start_mailing(anna)
    send_all()
    account.refresh_from_db()
    assert account.disabled_at is not None and "535" in account.disabled_reason
    assert xoauth2_smtp.handler.refused == [(account.from_email, token)]
    assert set(mailing.deliveries.values_list("status", flat=True)) == {Delivery.Status.PENDING}
    assert cache.get(tokens._key(account)) is None  # the next attempt asks for a new token


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_refresh_once_and_keep_the_rotated_token(
        postgres, anna, connected_account, oauth_provider):
    """The provider rotates and revokes the old refresh token: a second refresh with it
    would be invalid_grant. The row lock makes the others wait and use the cached token."""
    account = connected_account(anna)
    seen = []
    in_threads(6, lambda: seen.append(tokens.access_token(EmailAccount.objects.get(pk=account.pk))))
    assert oauth_provider.refreshes == 1 and len(set(seen)) == 1
    account.refresh_from_db()
    assert account.disabled_at is None
    assert account.oauth_refresh_token == oauth_provider.refresh_token_of(account.from_email)


def test_test_connection_signs_in_with_xoauth2(client, anna, connected_account, xoauth2_smtp):
    from django.contrib.messages import get_messages
    from django.urls import reverse

    account = connected_account(anna)
    client.force_login(anna)
    response = client.post(reverse("admin:massmail_emailaccount_test_connection", args=[account.pk]))
    (text,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Connected and authenticated: 250" in text
    assert xoauth2_smtp.handler.logins[0][0] == account.from_email
