import datetime
import os
import threading

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import connection

from massmail.permissions import MANAGERS_GROUP

from .factories import UserFactory
from .smtp import SMTPServer

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_service(what, available, reason):
    """Skip with ``reason`` when a service is missing; under CI=true that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true: {reason}")
    pytest.skip(reason)


# The tests' starting time, as ISO 8601 (for example 2026-12-05T23:30:00+01:00): .ci/run
# runs the suite a second time from a Saturday night to prove no test depends on the
# wall clock. Unset, tests start at the real time.
TEST_START = os.environ.get("MASSMAIL_TEST_START")


def working_moment(start):
    """``start`` when it is inside the default working window (Massmail Settings as a new
    installation has them), else the last Tuesday 10:00 before it, in that time zone."""
    from massmail.models import MassmailSettings
    from massmail.sending import schedule

    defaults = MassmailSettings()
    if schedule.window_end(start, defaults) is not None:
        return start
    local = start.astimezone(schedule.zone(defaults))
    days_back = (local.weekday() - 1) % 7 or 7
    return (local - datetime.timedelta(days=days_back)).replace(hour=10, minute=0, second=0,
                                                                microsecond=0)


@pytest.fixture(autouse=True)
def clock(request):
    """Every test runs inside the working window, its clock ticking from there, unless it
    is marked ``wall_clock``: then it runs on the real clock (another process is part of
    it, and time-machine cannot move that one). A test that sets its own time
    (time-machine) overrides this one."""
    if request.node.get_closest_marker("wall_clock") is not None:
        yield datetime.datetime.now(datetime.UTC)
        return
    start = (datetime.datetime.fromisoformat(TEST_START) if TEST_START
             else datetime.datetime.now(datetime.UTC))
    with time_machine.travel(working_moment(start), tick=True):
        yield working_moment(start)


@pytest.fixture
def postgres(db):
    need_service("PostgreSQL", connection.vendor == "postgresql",
                 "needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    need_service("Redis", bool(url), "needs Redis: set REDIS_URL=redis://...")
    return url


@pytest.fixture
def smtp_server():
    server = SMTPServer().start()
    yield server
    server.stop()


def in_threads(count, target):
    """Run ``target`` in ``count`` threads at once, each closing its own database
    connection, and fail the test with the exceptions any of them raised."""
    errors = []

    def wrapper():
        try:
            target()
        except Exception as exc:  # surfaced in the test's thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapper) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


def update_massmail_settings(**fields):
    """Set ``fields`` on the Massmail Settings singleton and save it; returns it."""
    from massmail.models import MassmailSettings

    settings = MassmailSettings.load()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    return settings


@pytest.fixture
def always_open(db):
    """Massmail Settings with working hours off, so tests can send at any time."""
    return update_massmail_settings(use_business_time=False)


# --- managers ---------------------------------------------------------------------------


def make_manager(username, *, crm=True, **fields):
    """A staff user in the "Sales managers" group that migrate creates. With ``crm``, also
    the view and change permissions on the CRM's models (Contact, Company, Lead), which the
    host CRM grants its managers so that they reach the recipient lists."""
    user = UserFactory(username=username, **fields)
    user.groups.add(Group.objects.get(name=MANAGERS_GROUP))
    if crm:
        user.user_permissions.add(*Permission.objects.filter(
            content_type__app_label="crm", codename__regex=r"^(view|change)_"))
    return user


def with_every_permission(user, apps=("massmail", "crm")):
    """Give ``user`` every model permission of ``apps`` too: for tests that show that only
    ownership, or a superuser-only page's own check, refuses a manager."""
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=apps))
    return user


@pytest.fixture
def anna():
    return make_manager("anna")


@pytest.fixture
def ben():
    return make_manager("ben")


@pytest.fixture
def as_anna(client, anna):
    """The test client, logged in as Anna."""
    client.force_login(anna)
    return client


@pytest.fixture
def account_on(smtp_server):
    """Factory of accounts that send through the test SMTP server."""
    from .factories import EmailAccountFactory

    def make(owner, **fields):
        return EmailAccountFactory(owner=owner, smtp_host=smtp_server.host,
                                   smtp_port=smtp_server.port, **fields)

    return make


# --- OAuth2 mailboxes -----------------------------------------------------------------


@pytest.fixture
def oauth_provider(settings):
    """The fake provider (tests/oauth_provider.py), registered as "microsoft" and "google"."""
    from .oauth_provider import FakeProvider

    provider = FakeProvider().start()
    settings.MASSMAIL = {**settings.MASSMAIL, "OAUTH_PROVIDERS": {
        "microsoft": provider.settings(tenant="contoso"), "google": provider.settings()}}
    yield provider
    provider.stop()


@pytest.fixture
def xoauth2_smtp(oauth_provider):
    """An SMTP server that accepts XOAUTH2 with the fake provider's current tokens only."""
    from .smtp_oauth import XOAuth2SMTPServer

    server = XOAuth2SMTPServer(oauth_provider).start()
    yield server
    server.stop()


@pytest.fixture
def connected_account(oauth_provider, xoauth2_smtp):
    """Factory of Microsoft 365 accounts already connected at the fake provider, sending
    through the XOAUTH2 server."""
    from django.utils import timezone

    from .factories import EmailAccountFactory

    def make(owner, **fields):
        account = EmailAccountFactory(owner=owner, smtp_host=xoauth2_smtp.host, smtp_port=xoauth2_smtp.port,
                                      smtp_user="", password="", auth_method="microsoft", **fields)
        account.oauth_refresh_token = oauth_provider.issue(account.from_email)
        account.oauth_address = account.from_email
        account.oauth_connected_at = timezone.now()
        account.save()
        return account

    return make


@pytest.fixture
def oauth_dovecot(oauth_provider):
    """A private Dovecot whose XOAUTH2 logins the fake provider's introspection decides."""
    from .dovecot_oauth import DOVECOT, Dovecot

    need_service("Dovecot", os.path.exists(DOVECOT), f"needs Debian's dovecot-imapd ({DOVECOT})")
    need_service("root", os.geteuid() == 0, "a private Dovecot serving other users' mail needs root")
    server = Dovecot(oauth_provider.url).start()
    yield server
    server.stop()


# --- mailbox feedback ------------------------------------------------------------------


@pytest.fixture
def dovecot():
    """A real IMAP server (Debian's Dovecot) on a free 127.0.0.1 port; see tests/imap.py."""
    from .imap import Dovecot, available

    need_service("Dovecot", available(), "needs Debian's dovecot-imapd (/usr/sbin/dovecot)")
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def postfix(dovecot, smtp_server):
    """A private Postfix that relays to the test SMTP server and delivers the reports
    it generates for ``dovecot.user`` into Dovecot's Maildir; see tests/postfix.py."""
    from .postfix import Postfix, available

    need_service("Postfix", available(), "needs Debian's postfix and root to start it")
    server = Postfix(relay_port=smtp_server.port, mailbox=dovecot.user, maildir=dovecot.maildir,
                     uid=dovecot.uid, gid=dovecot.gid).start()
    yield server
    server.stop()
