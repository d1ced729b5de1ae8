"""Creation by streaming records through Python: the path of SQLite, of sources that
override ``RecipientSource.addresses()``, and of the few records whose address the
database cannot judge (see database.py). It is also the reference the set-based path
is tested against.

Records are read in chunks and written with bulk statements, so a list of 100,000+
records never sits in memory.
"""

from itertools import islice

from django.contrib.contenttypes.models import ContentType
from django.db import connections, router

from ..addresses import address_key, key_expression
from ..audience import Exclusion, candidates, entries, suppression_reasons
from ..models import Delivery, Recipient
from .database import mailing_has_key


def add(mailing, source, queryset, excluded, skip_already_received, chunk_size):
    """Add the deliveries of ``queryset`` to ``mailing``, counting what is left out in
    the Counter ``excluded``; returns the number of records processed."""
    content_type = ContentType.objects.get_for_model(queryset.model)
    processed = 0
    for chunk in _chunks(candidates(source, queryset), chunk_size):
        processed += len(chunk)
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
    return processed


def _chunks(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _first_per_address(mailing, entries_):
    """The entries whose address (by key) is neither in the mailing yet nor earlier in
    the list: one indexed lookup per chunk, so counting duplicates costs the same at any
    size."""
    taken = _taken(mailing, {address_key(e.email) for e in entries_})
    fresh = {}
    for entry in entries_:
        key = address_key(entry.email)
        if key not in taken:
            fresh.setdefault(key, entry)
    return list(fresh.values())


def _taken(mailing, keys):
    """The keys among ``keys`` that ``mailing`` has already: on PostgreSQL one probe of
    its key index per key (database.mailing_has_key; ``LOWER(email) IN (…)`` would read
    every row of the mailing, for every streamed chunk)."""
    connection = connections[router.db_for_read(Delivery)]
    if connection.vendor != "postgresql":
        return set(_keys(mailing.deliveries.all(), keys))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT k FROM UNNEST(%s::text[]) AS k WHERE {mailing_has_key('k')}",
                       [list(keys), mailing.pk])
        return {key for (key,) in cursor.fetchall()}


def _keys(deliveries, keys):
    """The address keys of ``deliveries`` among ``keys``."""
    return (deliveries.annotate(_key=key_expression("email")).filter(_key__in=keys)
            .order_by().values_list("_key", flat=True))


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
        {address_key(e) for e in emails},
    ))
