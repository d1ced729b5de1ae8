"""Creating a large mailing off the request.

Above ``MASSMAIL["CREATE_IN_BACKGROUND_ABOVE"]`` records the admin hands creation over:
the mailing is saved at once in the ``creating`` status with a MailingCreation row
(the pickled queries, a cursor and the progress), and its deliveries are written one
chunk per transaction by the ``massmail.tasks.create_deliveries`` task, or, without
Celery, by the ``massmail_send --forever`` loop. Each chunk commits its rows, its
exclusion counts and the cursor together, so a worker that dies loses nothing and the
next one resumes where it stopped; the row lock taken per chunk lets the task and the
loop run side by side without doing a chunk twice. When the last chunk is written the
mailing becomes paused, ready to be activated; activation is refused before.
"""

import functools
import logging
import pickle
from collections import Counter

from django.db import transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from ..conf import conf
from ..models import Mailing, MailingCreation
from . import add_chunk

log = logging.getLogger(__name__)


def start(*, owner, message, querysets, name, skip_already_received):
    """Save the mailing in the ``creating`` status and queue its creation."""
    with transaction.atomic():
        mailing = Mailing.objects.create(owner=owner, message=message, name=name,
                                         status=Mailing.Status.CREATING)
        MailingCreation.objects.create(
            mailing=mailing, queries=pickle.dumps([queryset.query for queryset in querysets]),
            skip_already_received=skip_already_received,
            total=sum(queryset.count() for queryset in querysets),
        )
        if conf.DISPATCH_ON_ACTIVATE:  # a broker runs: hand it to a worker now
            from .. import tasks

            transaction.on_commit(functools.partial(
                tasks.create_deliveries.apply_async, (mailing.pk,), queue=conf.CELERY_QUEUE))
    return mailing


def step(mailing_id):
    """Write the next chunk of ``mailing_id``'s creation, or finish it. Returns True when
    it did either, False when there is nothing to do (finished, failed, or another
    worker holds it)."""
    with transaction.atomic():
        job = (MailingCreation.objects.select_for_update(skip_locked=True, of=("self",))
               .select_related("mailing").filter(pk=mailing_id, error="").first())
        if job is None:
            return False
        querysets = _querysets(job)
        if job.position < len(querysets) and not _write_chunk(job, querysets[job.position]):
            return False
        if job.position < len(querysets):
            job.save(update_fields=["position", "last_pk", "done"])
            return True
        Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.CREATING).update(
            status=Mailing.Status.PAUSED, updated_at=timezone.now())
        job.delete()
        return True


def _write_chunk(job, queryset):
    """Write one chunk and advance the cursor; False (error recorded) when it failed."""
    mailing = job.mailing
    excluded = Counter(mailing.excluded)
    try:
        with transaction.atomic():
            processed, after = add_chunk(mailing, queryset, job.last_pk, excluded,
                                         job.skip_already_received)
    except Exception as exc:  # kept on the row and logged; the mailing stays creating
        log.exception("Creating the deliveries of mailing %s failed", mailing.pk)
        MailingCreation.objects.filter(pk=job.pk).update(error=str(exc)[:2000] or repr(exc))
        return False
    Mailing.objects.filter(pk=mailing.pk).update(excluded=dict(excluded))
    job.done += processed
    job.position, job.last_pk = (job.position + 1, None) if after is None else (job.position, after)
    return True


def step_next():
    """One step of the oldest background creation that is free; True when it did one.
    The hook of the in-process engine loop."""
    pending = MailingCreation.objects.filter(error="").order_by("started_at")
    return any(step(pk) for pk in pending.values_list("pk", flat=True)[:10])


def progress(mailing):
    """(records processed, records in all), or None when ``mailing`` is not being created."""
    if mailing.status != Mailing.Status.CREATING:
        return None
    row = MailingCreation.objects.filter(pk=mailing.pk).values_list("done", "total").first()
    return None if row is None else (min(row[0], row[1]), row[1])


def progress_text(mailing):
    """The progress of a mailing being created, for the "why not sending" line."""
    done, total = progress(mailing) or (0, 0)
    return _("The mailing is being created: %(done)s of %(total)s records processed. It can "
             "be activated when it is ready.") % {
                 "done": number_format(done, force_grouping=True),
                 "total": number_format(total, force_grouping=True)}


def _querysets(job):
    querysets = []
    for query in pickle.loads(job.queries):  # written by start() above, never by a user
        queryset = query.model._default_manager.all()
        queryset.query = query
        querysets.append(queryset)
    return querysets
