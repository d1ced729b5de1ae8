"""Connecting a Microsoft 365 or Google mailbox from the account's admin page, through
the fake provider: the authorization code flow with PKCE, and its refusals. The state is
signed, works once, only for the user who started it and only for an account that is
theirs; a mailbox other than the From address is refused; nothing is stored in clear."""

from urllib.parse import parse_qsl, urlsplit

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from massmail import crypto
from massmail.models import EmailAccount

from .conftest import make_manager
from .factories import EmailAccountFactory, SuperuserFactory
from .oauth_provider import CLIENT_ID

pytestmark = pytest.mark.django_db


def url(view, *args):
    return reverse(f"admin:massmail_emailaccount_{view}", args=args)


def notes(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def account(anna, oauth_provider):
    return EmailAccountFactory(owner=anna, from_email="anna@contoso.example",
                               auth_method="microsoft", password="")


def start(client, account):
    """Click "Connect": the query of the provider's authorization URL."""
    response = client.post(url("connect", account.pk))
    assert response.status_code == 302, response
    location = urlsplit(response.url)
    return dict(parse_qsl(location.query)), location


def back(client, callback_url):
    """The browser arriving at the callback URL the provider redirected to."""
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


def connect(client, provider, account, email=None):
    query, _location = start(client, account)
    return back(client, provider.authorize(query, email or account.from_email))


def stored(account):
    return EmailAccount.objects.get(pk=account.pk)


def test_the_owner_connects_a_mailbox(client, anna, account, oauth_provider):
    client.force_login(anna)
    page = client.get(url("change", account.pk)).content.decode()
    assert url("connect", account.pk) in page and "Connect mailbox" in page
    query, location = start(client, account)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{oauth_provider.url}/authorize"
    assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://127.0.0.1:8000/massmail/oauth/callback/"
    assert query["login_hint"] == "anna@contoso.example"
    assert "https://outlook.office.com/SMTP.Send" in query["scope"].split()
    assert "offline_access" in query["scope"].split()

    response = back(client, oauth_provider.authorize(query, "anna@contoso.example"))
    assert response.status_code == 302 and response.url == url("change", account.pk)
    assert notes(response) == [f"{account} is connected: it signs in as anna@contoso.example."]
    account = stored(account)
    assert account.oauth_refresh_token == oauth_provider.refresh_token_of("anna@contoso.example")
    assert account.oauth_address == "anna@contoso.example"
    assert account.oauth_connected_at is not None
    assert "Connect again" in client.get(url("change", account.pk)).content.decode()


def test_connecting_again_re_enables_a_disabled_account(client, anna, account, oauth_provider):
    EmailAccount.objects.filter(pk=account.pk).update(
        disabled_at="2026-01-01T00:00Z", disabled_reason="reconnect this mailbox")
    client.force_login(anna)
    connect(client, oauth_provider, account)
    account = stored(account)
    assert (account.disabled_at, account.disabled_reason) == (None, "")


def test_a_superuser_connects_a_managers_mailbox(client, account, oauth_provider):
    client.force_login(SuperuserFactory())
    connect(client, oauth_provider, account)
    assert stored(account).oauth_address == "anna@contoso.example"


def test_a_mailbox_other_than_the_from_address_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    response = connect(client, oauth_provider, account, email="someone.else@contoso.example")
    assert response.url == url("change", account.pk)
    (text,) = notes(response)
    assert "You signed in as someone.else@contoso.example" in text
    assert "this account sends from anna@contoso.example" in text
    assert (stored(account).oauth_refresh_token, stored(account).oauth_address) == ("", "")


def test_a_replayed_state_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    query, _location = start(client, account)
    callback = oauth_provider.authorize(query, account.from_email)
    assert back(client, callback).status_code == 302
    before = stored(account).oauth_refresh_token
    # The same callback again, and a second code under the same state.
    for replay in (callback, oauth_provider.authorize(query, account.from_email)):
        response = back(client, replay)
        assert response.status_code == 400
        assert "already used" in response.content.decode()
    assert stored(account).oauth_refresh_token == before


def test_a_forged_state_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    query, _location = start(client, account)
    for state in (query["state"][:-2] + "xx", "", "e30:1tZ:abc"):
        response = back(client, oauth_provider.authorize({**query, "state": state}, account.from_email))
        assert response.status_code == 400
        assert "not genuine" in response.content.decode()
    assert stored(account).oauth_refresh_token == ""


def test_a_state_older_than_ten_minutes_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    with time_machine.travel("2026-12-01 10:00Z", tick=False):
        query, _location = start(client, account)
        callback = oauth_provider.authorize(query, account.from_email)
    with time_machine.travel("2026-12-01 10:11Z", tick=False):
        response = back(client, callback)
    assert response.status_code == 400
    assert "took too long" in response.content.decode()
    assert stored(account).oauth_refresh_token == ""


def test_another_manager_can_neither_start_nor_finish(client, anna, account, oauth_provider):
    ben = make_manager("ben")
    client.force_login(ben)
    assert client.post(url("connect", account.pk)).status_code == 404
    # Ben gets hold of the callback URL of Anna's flow (say, from a shared screen).
    client.force_login(anna)
    query, _location = start(client, account)
    callback = oauth_provider.authorize(query, account.from_email)
    client.force_login(ben)
    response = back(client, callback)
    assert response.status_code == 400
    assert "started by another user" in response.content.decode()
    assert stored(account).oauth_refresh_token == ""


def test_an_account_given_to_another_manager_meanwhile_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    query, _location = start(client, account)
    EmailAccount.objects.filter(pk=account.pk).update(owner=make_manager("ben"))
    response = back(client, oauth_provider.authorize(query, account.from_email))
    assert response.status_code == 400
    assert "not yours" in response.content.decode()
    assert stored(account).oauth_refresh_token == ""


def test_a_signed_out_callback_is_refused(client, anna, account, oauth_provider):
    client.force_login(anna)
    query, _location = start(client, account)
    client.logout()
    response = back(client, oauth_provider.authorize(query, account.from_email))
    assert response.status_code == 403
    assert stored(account).oauth_refresh_token == ""


def test_the_user_declining_at_the_provider(client, anna, account, oauth_provider):
    client.force_login(anna)
    query, _location = start(client, account)
    response = client.get(reverse("massmail:oauth_callback"), {
        "state": query["state"], "error": "access_denied", "error_description": "The user declined."})
    assert response.url == url("change", account.pk)
    assert notes(response) == ["The provider did not connect the mailbox: access_denied The user declined."]


def test_password_accounts_and_unregistered_providers_cannot_connect(client, anna, account, settings):
    client.force_login(anna)
    password_account = EmailAccountFactory(owner=anna)
    assert "Connect mailbox" not in client.get(url("change", password_account.pk)).content.decode()
    response = client.post(url("connect", password_account.pk))
    assert "signs in with a password" in notes(response)[0]
    settings.MASSMAIL = {**settings.MASSMAIL, "OAUTH_PROVIDERS": {}}
    response = client.post(url("connect", account.pk))
    assert response.url == url("change", account.pk)
    assert "needs a client_id and a client_secret" in notes(response)[-1]


def test_the_refresh_token_is_encrypted_at_rest_and_rotated_with_the_keys(
        client, anna, account, oauth_provider, settings):
    client.force_login(anna)
    connect(client, oauth_provider, account)
    token = stored(account).oauth_refresh_token

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("SELECT oauth_refresh_token FROM massmail_emailaccount WHERE id = %s",
                           [account.pk])
            return cursor.fetchone()[0]

    before = raw()
    assert token not in before and crypto.decrypt(before) == token
    new_key = "x" * 43 + "="
    old_keys = settings.MASSMAIL["ENCRYPTION_KEYS"]
    settings.MASSMAIL = {**settings.MASSMAIL, "ENCRYPTION_KEYS": [new_key, *old_keys]}
    call_command("massmail_rotate_keys", verbosity=0)
    settings.MASSMAIL = {**settings.MASSMAIL, "ENCRYPTION_KEYS": [new_key]}
    assert raw() != before and crypto.decrypt(raw()) == token


def test_a_code_injected_into_another_flow_fails_pkce(client, anna, account, oauth_provider):
    """An attacker's code (or one from another tab) under a genuine state: the provider
    bound the code to the other flow's challenge, so the exchange is refused."""
    client.force_login(anna)
    first, _location = start(client, account)
    second, _location = start(client, account)
    stolen = dict(parse_qsl(urlsplit(oauth_provider.authorize(first, account.from_email)).query))
    response = client.get(reverse("massmail:oauth_callback"),
                          {"state": second["state"], "code": stolen["code"]})
    assert response.url == url("change", account.pk)
    assert notes(response) == ["The provider refused the sign-in: invalid_grant PKCE verification failed"]
    assert stored(account).oauth_refresh_token == ""
