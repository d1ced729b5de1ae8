"""The public Python API of massmail; the admin and the demo use it too.

    mailing = create_mailing(owner=user, message=msg, recipients=[Contact.objects.filter(...)])
    activate(mailing)          # checks the accounts, then sending starts within seconds
    why_not_sending(mailing)   # list of human-readable reasons, [] when it is sending
    merge_records(lead, contact)  # a converted or merged record keeps VIP, account, history
"""

from collections import Counter

from django.core.exceptions import PermissionDenied
from django.db import transaction

from . import creation
from .creation import background
from .merging import merge_records
from .models import Mailing, Message
from .sending.control import ActivationError, activate, interrupt, pause, resend
from .sending.status import why_not_sending

__all__ = ["create_mailing", "count_recipients", "creation_progress", "activate", "pause",
           "interrupt", "resend", "why_not_sending", "ActivationError", "merge_records"]

# Records per streamed round trip when creation streams records through Python.
CHUNK_SIZE = 1000


def create_mailing(*, owner, message, recipients, name="", skip_already_received=False,
                   in_background=False):
    """Create a paused mailing of ``message`` to the records of the querysets in ``recipients``.

    Left-out records are counted by reason in ``mailing.excluded``; an address on a
    Contact, its Company and a Lead gets one row (the first record that has it). The
    rows are written by set operations on PostgreSQL and streamed elsewhere (see
    massmail.creation); nothing grows in memory with the number of records.

    With ``in_background``, the mailing is returned at once in the ``creating`` status
    and its deliveries are written by the ``massmail.tasks.create_deliveries`` task (or
    the ``massmail_send --forever`` loop), a chunk per transaction; it becomes paused
    when ready and cannot be activated before.
    """
    if message.owner_id != owner.pk:
        raise PermissionDenied("The message belongs to another manager.")
    recipients = list(recipients)
    if in_background:
        return background.start(owner=owner, message=message, querysets=recipients, name=name,
                                skip_already_received=skip_already_received)
    with transaction.atomic():
        mailing = Mailing.objects.create(owner=owner, message=message, name=name)
        excluded = Counter()
        creation.fill(mailing, recipients, excluded, skip_already_received,
                      stream_chunk=CHUNK_SIZE)
        mailing.excluded = dict(excluded)
        mailing.save(update_fields=["excluded"])
    return mailing


class _DryRun(Exception):
    pass


def count_recipients(*, owner, recipients, message=None, skip_already_received=False):
    """(number that would be mailed, exclusions by reason) without creating anything.

    Runs create_mailing itself inside a transaction that is rolled back, so the counts
    are exactly what creating the mailing would give.
    """
    result = {}
    try:
        with transaction.atomic():
            if message is None:
                message = Message.objects.create(owner=owner, subject="-", content="-")
            mailing = create_mailing(owner=owner, message=message, recipients=recipients,
                                     skip_already_received=skip_already_received)
            result["count"] = mailing.deliveries.count()
            result["excluded"] = mailing.excluded
            raise _DryRun
    except _DryRun:
        pass
    return result["count"], result["excluded"]


def creation_progress(mailing):
    """(records processed, records in all) of a mailing being created in the background,
    or None when it is not being created."""
    return background.progress(mailing)
