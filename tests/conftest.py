import os

import pytest
from django.db import connection

from .smtp import SMTPServer

IN_CI = os.environ.get("CI", "").lower() == "true"


def need_service(what, available, reason):
    """Skip with ``reason`` when a service is missing; under CI=true that is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true: {reason}")
    pytest.skip(reason)


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


@pytest.fixture
def always_open(db):
    """Massmail Settings with working hours off, so tests can send at any time."""
    from massmail.models import MassmailSettings

    settings = MassmailSettings.load()
    settings.use_business_time = False
    settings.save()
    return settings


@pytest.fixture
def account_on(smtp_server):
    """Factory of accounts that send through the test SMTP server."""
    from .factories import EmailAccountFactory

    def make(owner, **fields):
        return EmailAccountFactory(owner=owner, smtp_host=smtp_server.host,
                                   smtp_port=smtp_server.port, **fields)

    return make
