"""MASSMAIL["CELERY_QUEUE"] holds for every massmail task: the first batches on activation,
the beat schedule and the batches, proven with a real worker that listens only there."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.test import override_settings

from example_project.celery import app
from massmail.setup import ensure_dispatch_schedule

from .engine import contacts, start_mailing
from .factories import UserFactory
from .test_engine_celery import wait_for

QUEUE = "massmail-only"


@pytest.fixture
def worker_queues():
    """A worker started to consume only QUEUE narrows the app's queue selection for the
    rest of the process (Celery keeps it in app.amqp.queues): forget it afterwards, or
    later workers of the suite would listen to QUEUE only."""
    yield
    del app.amqp.queues


def with_queue(**values):
    return override_settings(MASSMAIL={**settings.MASSMAIL, "CELERY_QUEUE": QUEUE, **values})


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_named_queue_only_sends_an_activated_mailing(
        redis_url, smtp_server, always_open, account_on, worker_queues):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 5)
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.control.purge()
    with with_queue(DISPATCH_ON_ACTIVATE=True), start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[QUEUE]):
        mailing = start_mailing(manager)
        wait_for(lambda: len(smtp_server.messages) == 5)
        wait_for(lambda: type(mailing).objects.get(pk=mailing.pk).status == "done")


@pytest.mark.django_db
def test_the_beat_schedule_uses_the_queue():
    with with_queue():
        assert ensure_dispatch_schedule().queue == QUEUE
    assert ensure_dispatch_schedule().queue is None
