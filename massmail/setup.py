"""What massmail sets up after `migrate`: the beat schedules of the dispatch and mailbox
feedback tasks (on MASSMAIL["CELERY_QUEUE"]) and the manager permissions of the "Sales
managers" group or the host's MANAGER_GROUPS (see permissions.py).

Kept idempotent so it can run on every migrate; changing DISPATCH_INTERVAL and
migrating again updates the schedule.
"""

from .conf import conf

DISPATCH_TASK_NAME = "massmail: dispatch mailings"
DISPATCH_TASK = "massmail.tasks.dispatch"
FEEDBACK_TASK_NAME = "massmail: read mailbox feedback"
FEEDBACK_TASK = "massmail.tasks.read_mailboxes"


def ensure_interval_task(name, task_name, every, using="default"):
    """Create or repair the PeriodicTask ``name`` running ``task_name`` every ``every``
    seconds."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # django-celery-beat does not make intervals unique, and the host (or beat itself)
    # may already hold several equal ones, so get_or_create could raise
    # MultipleObjectsReturned: reuse the oldest instead.
    intervals = IntervalSchedule.objects.using(using)
    schedule = intervals.filter(every=every, period=IntervalSchedule.SECONDS
                                ).order_by("pk").first()
    if schedule is None:
        schedule = intervals.create(every=every, period=IntervalSchedule.SECONDS)
    queue = conf.CELERY_QUEUE or None
    task, created = PeriodicTask.objects.using(using).get_or_create(
        name=name, defaults={"task": task_name, "interval": schedule, "queue": queue},
    )
    other_schedules = ("crontab_id", "solar_id", "clocked_id")
    if not created and (task.interval_id != schedule.pk or task.task != task_name
                        or task.queue != queue
                        or not task.enabled or any(getattr(task, f) for f in other_schedules)):
        # A task with two kinds of schedule fails django-celery-beat's validation.
        task.crontab = task.solar = task.clocked = None
        task.interval = schedule
        task.task = task_name
        task.queue = queue
        task.enabled = True
        task.save(using=using)
    return task


def ensure_dispatch_schedule(using="default"):
    return ensure_interval_task(DISPATCH_TASK_NAME, DISPATCH_TASK, conf.DISPATCH_INTERVAL, using)


def ensure_feedback_schedule(using="default"):
    return ensure_interval_task(FEEDBACK_TASK_NAME, FEEDBACK_TASK, conf.FEEDBACK_INTERVAL, using)


def after_migrate(sender, using="default", **kwargs):
    from django.contrib.auth.models import Group
    from django.db import router
    from django_celery_beat.models import PeriodicTask

    from .permissions import sync_manager_permissions

    if router.allow_migrate_model(using, PeriodicTask):
        ensure_dispatch_schedule(using)
        ensure_feedback_schedule(using)
    if router.allow_migrate_model(using, Group):
        sync_manager_permissions(sender, using)
