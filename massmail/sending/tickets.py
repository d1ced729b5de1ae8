"""At most one queued batch per (mailing, account).

While workers are backlogged, dispatch runs every minute and would otherwise queue
another ``send_batch`` for every pair each time, so the queue would grow without bound.
Dispatch takes a ticket before it queues a batch and the batch hands it back when it
starts; a ticket older than TICKET_SECONDS is taken to be lost (a purged queue, a
broker restart) and may be taken again.
"""

import datetime

from django.db import IntegrityError, transaction

from ..models import BatchTicket

TICKET_SECONDS = 900


def take(mailing_id, account_id, now):
    """True when no batch of this pair is queued (and now one is)."""
    stale = now - datetime.timedelta(seconds=TICKET_SECONDS)
    if BatchTicket.objects.filter(mailing_id=mailing_id, account_id=account_id,
                                  queued_at__lt=stale).update(queued_at=now):
        return True
    try:
        with transaction.atomic():
            BatchTicket.objects.create(mailing_id=mailing_id, account_id=account_id, queued_at=now)
    except IntegrityError:
        return False
    return True


def started(mailing_id, account_id):
    BatchTicket.objects.filter(mailing_id=mailing_id, account_id=account_id).delete()
