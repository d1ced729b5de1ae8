"""Mailbox feedback through Celery: the beat schedule that migrate creates, the task
fanning out one read per account on MASSMAIL["CELERY_QUEUE"], and a real worker on
Redis reading a real Dovecot mailbox."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.test import override_settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from example_project.celery import app
from massmail import tasks
from massmail.models import Suppression
from massmail.setup import FEEDBACK_TASK_NAME

from .engine import contacts, send_all, start_mailing
from .factories import EmailAccountFactory, UserFactory
from .feedback import CORPUS_ACCOUNT, about
from .test_engine_celery import wait_for


@pytest.mark.django_db
def test_migrate_created_the_feedback_task_every_five_minutes():
    task = PeriodicTask.objects.select_related("interval").get(name=FEEDBACK_TASK_NAME)
    assert (task.task, task.enabled) == ("massmail.tasks.read_mailboxes", True)
    assert (task.interval.every, task.interval.period) == (300, IntervalSchedule.SECONDS)


@pytest.mark.django_db
def test_read_mailboxes_reads_each_account_with_feedback_on_the_configured_queue(monkeypatch):
    reading = EmailAccountFactory(read_feedback=True)
    EmailAccountFactory(read_feedback=False)
    sent = []
    monkeypatch.setattr(tasks.read_mailbox, "apply_async",
                        lambda args, queue=None: sent.append((args, queue)))
    with override_settings(MASSMAIL={**settings.MASSMAIL, "CELERY_QUEUE": "mail"}):
        tasks.read_mailboxes()
    assert sent == [((reading.pk,), "mail")]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_worker_reads_a_mailbox(redis_url, smtp_server, dovecot, always_open, account_on):
    manager = UserFactory()
    account_on(manager, from_email=CORPUS_ACCOUNT, **dovecot.account_fields())
    contacts(manager, 1)
    mailing = start_mailing(manager)
    send_all()
    delivery = mailing.deliveries.get()
    dovecot.deliver(about("postfix_dsn_user_unknown.eml", delivery, "nobody@example.org",
                          "<5f1c2b0e9a8d4c7fb1e2a3d4c5b6a7e8@sender.example>"))
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        tasks.read_mailboxes.delay()
        wait_for(lambda: Suppression.objects.filter(email=delivery.email, reason="bounced").exists())
