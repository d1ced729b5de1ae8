"""At most one queued batch per (mailing, account), and making way for waiting pairs.

While workers are backlogged, dispatch runs every minute and would otherwise queue
another ``send_batch`` for every pair each time, so the queue would grow without bound.
Dispatch takes a ticket before it queues a batch and the batch hands it back when it
starts; a ticket older than TICKET_SECONDS is taken to be lost (a purged queue, a
broker restart) and may be taken again.

The broker's queue is first in, first out: a mailing activated while every worker is
busy would wait behind the continuations of all the running pairs, one quantum
(BATCH_MAX_SECONDS) each. So a ticket says whether it is a continuation; while any other
ticket waits, running batches end after their current group and queue their
continuation behind it (``newcomer_waiting``), and the queue moves within moments.
"""

import datetime

from django.db import IntegrityError, transaction

from ..models import BatchTicket

TICKET_SECONDS = 900
# A pair waiting longer than this for a worker is not served by making way any more (its
# batch was lost, or the workers are busy with other tasks): running batches go back to
# whole quanta instead of stopping after every group for TICKET_SECONDS.
NEWCOMER_PATIENCE_SECONDS = 120


def take(mailing_id, account_id, now, continuation=False):
    """True when no batch of this pair is queued (and now one is)."""
    stale = now - datetime.timedelta(seconds=TICKET_SECONDS)
    if BatchTicket.objects.filter(mailing_id=mailing_id, account_id=account_id,
                                  queued_at__lt=stale).update(queued_at=now,
                                                              continuation=continuation):
        return True
    try:
        with transaction.atomic():
            BatchTicket.objects.create(mailing_id=mailing_id, account_id=account_id,
                                       queued_at=now, continuation=continuation)
    except IntegrityError:
        return False
    return True


def started(mailing_id, account_id):
    """Hand the pair's ticket back as its batch starts. True when it was a waiting
    pair's ticket (not a continuation)."""
    queued = BatchTicket.objects.filter(mailing_id=mailing_id, account_id=account_id)
    waiting = queued.filter(continuation=False).exists()
    queued.delete()
    return waiting


def newcomer_waiting(now):
    """True while a queued batch that is not a continuation waits for a worker, for at
    most NEWCOMER_PATIENCE_SECONDS."""
    since = now - datetime.timedelta(seconds=NEWCOMER_PATIENCE_SECONDS)
    return BatchTicket.objects.filter(continuation=False, queued_at__gte=since).exists()
