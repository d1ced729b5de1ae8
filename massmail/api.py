"""The public Python API of massmail; the admin and the demo use it too.

    mailing = create_mailing(owner=user, message=msg, recipients=[Contact.objects.filter(...)])
    activate(mailing)          # checks the accounts, then sending starts within seconds
    why_not_sending(mailing)   # list of human-readable reasons, [] when it is sending
"""

from collections import Counter
from itertools import islice

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction

from .addresses import address_key, key_expression
from .audience import Exclusion, candidates, entries, suppression_reasons
from .models import Delivery, Mailing, Message, Recipient
from .recipients import source_for_model
from .sending.control import ActivationError, activate, interrupt, pause, resend
from .sending.status import why_not_sending

__all__ = ["create_mailing", "count_recipients", "activate", "pause", "interrupt", "resend",
           "why_not_sending", "ActivationError"]

CHUNK_SIZE = 1000


def create_mailing(*, owner, message, recipients, name="", skip_already_received=False):
    """Create a paused mailing of ``message`` to the records of the querysets in ``recipients``.

    Records are streamed and written in chunks, so a list of 100,000+ records never sits
    in memory. Left-out records are counted by reason in ``mailing.excluded``; an address
    on a Contact, its Company and a Lead gets one row (the first record that has it).
    """
    if message.owner_id != owner.pk:
        raise PermissionDenied("The message belongs to another manager.")
    with transaction.atomic():
        mailing = Mailing.objects.create(owner=owner, message=message, name=name)
        excluded = Counter()
        for queryset in recipients:
            _add_queryset(mailing, queryset, excluded, skip_already_received)
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


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _add_queryset(mailing, queryset, excluded, skip_already_received):
    source = source_for_model(queryset.model)
    content_type = ContentType.objects.get_for_model(queryset.model)
    for chunk in _chunks(candidates(source, queryset), CHUNK_SIZE):
        accepted = entries(chunk, mailing.owner_id, excluded)
        blocked = suppression_reasons(e.email for e in accepted)
        if skip_already_received:
            received = _already_received(mailing, [e.email for e in accepted])
            blocked.update({e.email: Exclusion.ALREADY_RECEIVED for e in accepted
                            if e.email not in blocked and address_key(e.email) in received})
        for entry in [e for e in accepted if e.email in blocked]:
            excluded[blocked[entry.email]] += 1
        accepted = [e for e in accepted if e.email not in blocked]
        fresh = _first_per_address(mailing, accepted)
        if len(fresh) < len(accepted):
            excluded[Exclusion.DUPLICATE] += len(accepted) - len(fresh)
        recipient_ids = _recipient_ids(content_type, {e.object_id for e in fresh})
        # The unique (mailing, address key) constraint stays the last word.
        Delivery.objects.bulk_create(
            [Delivery(mailing=mailing, recipient_id=recipient_ids[e.object_id], email=e.email)
             for e in fresh],
            ignore_conflicts=True,
        )


def _first_per_address(mailing, entries_):
    """The entries whose address (by key) is neither in the mailing yet nor earlier in
    the list: one indexed lookup per chunk, so counting duplicates costs the same at any
    size."""
    taken = set(_keys(mailing.deliveries.all(), [e.email for e in entries_]))
    fresh = {}
    for entry in entries_:
        key = address_key(entry.email)
        if key not in taken:
            fresh.setdefault(key, entry)
    return list(fresh.values())


def _keys(deliveries, emails):
    """The address keys of ``deliveries`` among those of ``emails``."""
    return (deliveries.annotate(_key=key_expression("email"))
            .filter(_key__in={address_key(e) for e in emails}).values_list("_key", flat=True))


def _recipient_ids(content_type, object_ids):
    """{object_id: Recipient id}, creating the missing Recipient rows in one statement."""
    Recipient.objects.bulk_create(
        [Recipient(content_type=content_type, object_id=pk) for pk in object_ids],
        ignore_conflicts=True,
    )
    return dict(
        Recipient.objects.filter(content_type=content_type, object_id__in=object_ids)
        .values_list("object_id", "id")
    )


def _already_received(mailing, emails):
    """The keys among ``emails`` that another mailing of the same message was sent to."""
    return set(_keys(
        Delivery.objects.filter(mailing__message_id=mailing.message_id,
                                status=Delivery.Status.SENT).exclude(mailing=mailing),
        emails,
    ))
