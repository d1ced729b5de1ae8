"""After `migrate`, Celery beat's database scheduler has the dispatch task, on the
interval that MASSMAIL["DISPATCH_INTERVAL"] says."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from massmail.conf import DEFAULTS
from massmail.setup import DISPATCH_TASK_NAME, ensure_dispatch_schedule

pytestmark = pytest.mark.django_db


def dispatch_task():
    return PeriodicTask.objects.select_related("interval").get(name=DISPATCH_TASK_NAME)


def test_migrate_created_the_dispatch_task():
    task = dispatch_task()
    assert task.task == "massmail.tasks.dispatch"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (
        DEFAULTS["DISPATCH_INTERVAL"], IntervalSchedule.SECONDS)
    assert task.crontab is None


def test_migrate_recreates_a_deleted_task():
    PeriodicTask.objects.filter(name=DISPATCH_TASK_NAME).delete()
    call_command("migrate", verbosity=0)
    assert dispatch_task().task == "massmail.tasks.dispatch"


@pytest.mark.wall_clock  # compares with the time the test database was migrated
@override_settings(MASSMAIL={"DISPATCH_INTERVAL": 30})
def test_changed_interval_updates_the_task():
    before = PeriodicTasks.last_change()
    task = ensure_dispatch_schedule()
    assert task.pk == dispatch_task().pk  # updated, not duplicated
    assert dispatch_task().interval.every == 30
    assert PeriodicTask.objects.filter(name=DISPATCH_TASK_NAME).count() == 1
    # Beat's database scheduler reloads its schedule only when this timestamp moves.
    assert before is None or PeriodicTasks.last_change() > before


@override_settings(MASSMAIL={"DISPATCH_INTERVAL": 30})
def test_migrate_applies_a_changed_interval():
    call_command("migrate", verbosity=0)
    assert dispatch_task().interval.every == 30


def test_is_idempotent():
    first = ensure_dispatch_schedule()
    second = ensure_dispatch_schedule()
    assert first.pk == second.pk
    assert PeriodicTask.objects.filter(name=DISPATCH_TASK_NAME).count() == 1
    assert IntervalSchedule.objects.filter(
        every=DEFAULTS["DISPATCH_INTERVAL"], period=IntervalSchedule.SECONDS).count() == 1


def test_repairs_a_disabled_or_edited_task():
    task = dispatch_task()
    task.enabled = False
    task.task = "something.else"
    task.save()
    repaired = ensure_dispatch_schedule()
    assert (repaired.enabled, repaired.task) == (True, "massmail.tasks.dispatch")


def test_replaces_a_crontab_set_in_the_admin():
    task = dispatch_task()
    task.interval = None
    task.crontab = CrontabSchedule.objects.create(minute="*/5")
    task.save()
    ensure_dispatch_schedule()
    task = dispatch_task()
    assert task.crontab is None
    assert task.interval.every == DEFAULTS["DISPATCH_INTERVAL"]


@override_settings(MASSMAIL={"DISPATCH_INTERVAL": 45})
def test_reuses_an_existing_interval_even_when_duplicated():
    """django-celery-beat allows equal intervals; the oldest is reused, nothing raises."""
    oldest = IntervalSchedule.objects.create(every=45, period=IntervalSchedule.SECONDS)
    IntervalSchedule.objects.create(every=45, period=IntervalSchedule.SECONDS)
    assert ensure_dispatch_schedule().interval_id == oldest.pk
