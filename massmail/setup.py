"""What massmail sets up after `migrate`: the beat schedule of the dispatch task and
the manager permissions of the "Sales managers" group or the host's MANAGER_GROUPS
(see permissions.py).

Kept idempotent so it can run on every migrate; changing DISPATCH_INTERVAL and
migrating again updates the schedule.
"""

from .conf import conf

DISPATCH_TASK_NAME = "massmail: dispatch mailings"
DISPATCH_TASK = "massmail.tasks.dispatch"


def ensure_dispatch_schedule(using="default"):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # django-celery-beat does not make intervals unique, and the host (or beat itself)
    # may already hold several equal ones, so get_or_create could raise
    # MultipleObjectsReturned: reuse the oldest instead.
    intervals = IntervalSchedule.objects.using(using)
    schedule = intervals.filter(every=conf.DISPATCH_INTERVAL, period=IntervalSchedule.SECONDS
                                ).order_by("pk").first()
    if schedule is None:
        schedule = intervals.create(every=conf.DISPATCH_INTERVAL, period=IntervalSchedule.SECONDS)
    queue = conf.CELERY_QUEUE or None
    task, created = PeriodicTask.objects.using(using).get_or_create(
        name=DISPATCH_TASK_NAME,
        defaults={"task": DISPATCH_TASK, "interval": schedule, "queue": queue},
    )
    other_schedules = ("crontab_id", "solar_id", "clocked_id")
    if not created and (task.interval_id != schedule.pk or task.task != DISPATCH_TASK
                        or task.queue != queue
                        or not task.enabled or any(getattr(task, f) for f in other_schedules)):
        # A task with two kinds of schedule fails django-celery-beat's validation.
        task.crontab = task.solar = task.clocked = None
        task.interval = schedule
        task.task = DISPATCH_TASK
        task.queue = queue
        task.enabled = True
        task.save(using=using)
    return task


def after_migrate(sender, using="default", **kwargs):
    from django.contrib.auth.models import Group
    from django.db import router
    from django_celery_beat.models import PeriodicTask

    from .permissions import sync_manager_permissions

    if router.allow_migrate_model(using, PeriodicTask):
        ensure_dispatch_schedule(using)
    if router.allow_migrate_model(using, Group):
        sync_manager_permissions(sender, using)
