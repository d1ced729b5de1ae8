"""End to end with a real Celery worker on Redis: activating a mailing is enough."""

import datetime
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from example_project.celery import app
from massmail.models import EmailAccount

from .engine import contacts, start_mailing
from .factories import UserFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_worker_sends_an_activated_mailing(redis_url, smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    account_on(manager, main=True)
    people = contacts(manager, 12)
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.control.purge()
    with override_settings(MASSMAIL={**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": True}), \
            start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        mailing = start_mailing(manager)
        wait_for(lambda: len(smtp_server.messages) == 12)
        wait_for(lambda: mailing.__class__.objects.get(pk=mailing.pk).status == "done")
    assert sorted(smtp_server.handler.recipients()) == sorted(c.email for c in people)


def test_an_account_left_locked_by_a_killed_worker_sends_again_when_its_lease_ends(
        redis_url, smtp_server, always_open, account_on):
    """A SIGKILLed worker leaves its account's batch lease behind. The dispatch finds the
    account busy; one follow-up dispatch just after the lease ends sends the rows, instead
    of the next beat (DISPATCH_INTERVAL later, and no beat runs here)."""
    manager = UserFactory()
    account = account_on(manager)
    people = contacts(manager, 3)
    now = timezone.now()
    EmailAccount.objects.filter(pk=account.pk).update(
        batch_lease_owner="killed-worker", batch_started_at=now - datetime.timedelta(seconds=55),
        batch_lease_until=now + datetime.timedelta(seconds=5))
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.control.purge()
    with override_settings(MASSMAIL={**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": True}), \
            start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        start_mailing(manager)
        wait_for(lambda: len(smtp_server.messages) == 3, timeout=30)
    assert sorted(smtp_server.handler.recipients()) == sorted(c.email for c in people)
