"""The email account pages: superusers create and edit them for managers, managers see
their own read-only, both see usage against the limits and the account's state, test
the connection against a real SMTP server, and superusers re-enable accounts."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from massmail.models import Delivery, EmailAccount

from .factories import (
    DeliveryFactory,
    EmailAccountFactory,
    MailingFactory,
    SuperuserFactory,
)
from .smtp import free_port

pytestmark = pytest.mark.django_db

PASSWORD = "Stored-Pa55word-xyzzy"


@pytest.fixture
def root():
    return SuperuserFactory(username="root")


def url(view, *args):
    return reverse(f"admin:massmail_emailaccount_{view}", args=args)


def note(response):
    (text,) = [str(message) for message in get_messages(response.wsgi_request)]
    return text


def sent(account, count, ago=datetime.timedelta(minutes=5)):
    """``count`` deliveries that ``account`` attempted ``ago``."""
    mailing = MailingFactory(owner=account.owner)
    for _ in range(count):
        DeliveryFactory(mailing=mailing, account=account, status=Delivery.Status.SENT,
                        attempted_at=timezone.now() - ago, sent_at=timezone.now() - ago)


# --- creating and viewing ---------------------------------------------------------------


def test_superuser_creates_an_account_for_a_manager_with_the_owner_picker(client, root, anna):
    client.force_login(root)
    form = client.get(url("add")).context["adminform"].form
    assert anna in form.fields["owner"].queryset
    response = client.post(url("add"), {
        "owner": anna.pk, "name": "Anna bulk", "from_email": "anna@bulk.example",
        "smtp_host": "smtp.bulk.example", "smtp_port": 587, "smtp_user": "anna",
        "password": "pw-1", "use_tls": "on", "massmail": "on", "daily_limit": 300,
        "auth_method": "password",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = EmailAccount.objects.get()
    assert (account.owner, account.password, account.daily_limit) == (anna, "pw-1", 300)


def test_manager_sees_their_account_read_only_without_password_or_owner(client, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD, smtp_host="smtp.anna.example")
    client.force_login(anna)
    page = client.get(url("change", account.pk))
    assert page.status_code == 200
    html = page.content.decode()
    assert "smtp.anna.example" in html
    assert PASSWORD not in html
    assert 'name="password"' not in html and 'name="_save"' not in html
    assert 'name="owner"' not in html
    assert url("test_connection", account.pk) in html  # owners may test their account


def test_list_and_page_show_sent_against_the_daily_limit(client, root, anna):
    account = EmailAccountFactory(owner=anna, daily_limit=500)
    sent(account, 3)
    sent(account, 2, ago=datetime.timedelta(hours=25))  # outside the rolling 24 hours
    client.force_login(root)
    assert "24 hours: 3 / 500" in client.get(url("changelist")).content.decode()
    assert "24 hours: 3 / 500" in client.get(url("change", account.pk)).content.decode()


def test_hourly_and_minute_limits_are_shown_when_set(client, anna):
    account = EmailAccountFactory(owner=anna, daily_limit=None, hourly_limit=50, minute_limit=5)
    sent(account, 2, ago=datetime.timedelta(minutes=30))
    client.force_login(anna)
    html = client.get(url("changelist")).content.decode()
    # No daily limit of its own: the Massmail Settings value applies.
    assert "24 hours: 2 / 500 · hour: 2 / 50 · minute: 0 / 5" in html


def test_disabled_account_shows_why(client, anna):
    EmailAccountFactory(owner=anna, disabled_at=timezone.now(),
                        disabled_reason="The server refused the login: 535 bad credentials",
                        last_error="The server refused the login: 535 bad credentials")
    client.force_login(anna)
    html = client.get(url("changelist")).content.decode()
    assert "Disabled since" in html
    assert "535 bad credentials" in html


def test_paused_account_shows_until_when(client, anna):
    account = EmailAccountFactory(owner=anna, paused_until=timezone.now() + datetime.timedelta(hours=1),
                                  last_error="The provider reports a quota: 452 4.5.3 quota")
    client.force_login(anna)
    for page in (url("changelist"), url("change", account.pk)):
        html = client.get(page).content.decode()
        assert "Paused until" in html
        assert "452 4.5.3 quota" in html


def test_usable_account_is_active(client, anna):
    EmailAccountFactory(owner=anna)
    client.force_login(anna)
    assert "Active" in client.get(url("changelist")).content.decode()


# --- test connection --------------------------------------------------------------------


def test_connection_succeeds_with_the_server_reply(client, root, anna, smtp_server, account_on):
    smtp_server.authenticator.password = "secret"
    account = account_on(anna, password="secret")
    client.force_login(root)
    assert url("test_connection", account.pk) in client.get(url("change", account.pk)).content.decode()
    response = client.post(url("test_connection", account.pk))
    assert response.status_code == 302
    assert response.url == url("change", account.pk)
    text = note(response)
    assert f"Test of {account} succeeded" in text
    assert "Connected and authenticated: 250" in text


def test_owner_tests_their_own_account(client, anna, smtp_server, account_on):
    account = account_on(anna)
    client.force_login(anna)
    assert "succeeded" in note(client.post(url("test_connection", account.pk)))


def test_connection_with_a_wrong_password(client, root, anna, smtp_server, account_on):
    smtp_server.authenticator.password = "x"
    account = account_on(anna, password="wrong")
    client.force_login(root)
    text = note(client.post(url("test_connection", account.pk)))
    assert f"Test of {account} failed" in text
    assert "The server refused the login: 535" in text


def test_connection_to_a_dead_port(client, root, anna):
    port = free_port()
    account = EmailAccountFactory(owner=anna, smtp_host="127.0.0.1", smtp_port=port)
    client.force_login(root)
    text = note(client.post(url("test_connection", account.pk)))
    assert f"Cannot connect to 127.0.0.1:{port}" in text


def test_connection_test_needs_a_post(client, root, anna):
    account = EmailAccountFactory(owner=anna)
    client.force_login(root)
    assert client.get(url("test_connection", account.pk)).status_code == 405


# --- re-enable --------------------------------------------------------------------------


def test_superuser_re_enables_accounts(client, root, anna):
    now = timezone.now()
    disabled = EmailAccountFactory(owner=anna, disabled_at=now, disabled_reason="535",
                                   last_error="535")
    paused = EmailAccountFactory(owner=anna, paused_until=now + datetime.timedelta(hours=1))
    client.force_login(root)
    response = client.post(url("changelist"), {
        "action": "reenable", "_selected_action": [disabled.pk, paused.pk]})
    assert response.status_code == 302
    assert note(response) == "2 accounts may send again."
    for account in (disabled, paused):
        account.refresh_from_db()
        assert (account.disabled_at, account.disabled_reason, account.paused_until) == (None, "", None)
    disabled.refresh_from_db()
    assert disabled.last_error == "535"  # the history stays


def test_managers_cannot_re_enable(client, anna):
    account = EmailAccountFactory(owner=anna, disabled_at=timezone.now(), disabled_reason="535")
    client.force_login(anna)
    changelist = client.get(url("changelist"))
    assert changelist.status_code == 200
    assert "reenable" not in changelist.content.decode()
    client.post(url("changelist"), {"action": "reenable", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.disabled_at is not None


# --- the list at scale, and the sender name --------------------------------------------------


@pytest.mark.parametrize("as_superuser", [False, True])
def test_account_list_makes_a_constant_number_of_queries(client, root, anna, as_superuser,
                                                         django_assert_max_num_queries):
    client.force_login(root if as_superuser else anna)
    sent(EmailAccountFactory(owner=anna, hourly_limit=10), 2)
    with django_assert_max_num_queries(13):
        assert client.get(url("changelist")).status_code == 200
    for index in range(49):
        EmailAccountFactory(owner=anna, minute_limit=index % 3 or None,
                            disabled_at=timezone.now() if index % 5 == 0 else None)
    with django_assert_max_num_queries(13):
        page = client.get(url("changelist"), {"all": ""})
    assert len(page.context["cl"].result_list) == 50


def test_list_and_page_show_the_sender_name(client, anna):
    account = EmailAccountFactory(owner=anna, from_name="Anna Smith", from_email="anna@sales.example")
    client.force_login(anna)
    assert "Anna Smith &lt;anna@sales.example&gt;" in client.get(url("changelist")).content.decode()
    assert "Anna Smith" in client.get(url("change", account.pk)).content.decode()
