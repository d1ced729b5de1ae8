"""What massmail sets up after `migrate`: the beat schedule of the dispatch task.

Kept idempotent so it can run on every migrate; changing DISPATCH_INTERVAL and
migrating again updates the schedule.
"""

from .conf import conf

DISPATCH_TASK_NAME = "massmail: dispatch mailings"


def ensure_dispatch_schedule():
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    schedule, _ = IntervalSchedule.objects.get_or_create(
        every=conf.DISPATCH_INTERVAL, period=IntervalSchedule.SECONDS
    )
    task, created = PeriodicTask.objects.get_or_create(
        name=DISPATCH_TASK_NAME,
        defaults={"task": "massmail.tasks.dispatch", "interval": schedule},
    )
    if not created and (task.interval_id != schedule.pk or task.task != "massmail.tasks.dispatch"
                        or not task.enabled):
        task.interval = schedule
        task.task = "massmail.tasks.dispatch"
        task.enabled = True
        task.save()
    return task


def after_migrate(sender, using=None, **kwargs):
    from django.db import router
    from django_celery_beat.models import PeriodicTask

    if router.allow_migrate_model(using, PeriodicTask):
        ensure_dispatch_schedule()
