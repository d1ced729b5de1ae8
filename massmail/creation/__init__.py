"""Creating a mailing's deliveries from querysets of host records.

Each queryset is taken in chunks of ``CHUNK_RECORDS`` records in primary-key order.
A chunk is written by set operations in the database on PostgreSQL (database.py) or
streamed through Python elsewhere and for sources that compute their addresses in
Python (streaming.py); both give the same rows and the same counts by reason. The same
chunks serve creation in one transaction (``fill``, on the request) and in the
background, one chunk per transaction with its progress (background.py).
"""

from django.db import DEFAULT_DB_ALIAS, connection, router

from ..models import Delivery
from ..recipients import source_for_model
from . import database, streaming

# Records per chunk: per transaction in the background, so also the progress step.
CHUNK_RECORDS = 50_000
# Records per streamed round trip of the Python path.
STREAM_CHUNK = 1000


def fill(mailing, querysets, excluded, skip_already_received, *, stream_chunk=STREAM_CHUNK):
    """Add every record of ``querysets`` to ``mailing``, in the caller's transaction;
    the Counter ``excluded`` collects what is left out, by reason."""
    for queryset in querysets:
        after = None
        while True:
            _processed, after = add_chunk(mailing, queryset, after, excluded,
                                          skip_already_received, stream_chunk=stream_chunk)
            if after is None:
                break


def add_chunk(mailing, queryset, after, excluded, skip_already_received, *,
              stream_chunk=STREAM_CHUNK, set_based=None):
    """Add the next chunk of ``queryset``: its records whose pk follows ``after`` (None:
    from the start). Returns (records processed, the chunk's last pk, or None when the
    queryset is finished). ``set_based`` forces a path (tests); by default PostgreSQL
    takes the set-based one for sources that read their email column."""
    rest = queryset if after is None else queryset.filter(pk__gt=after)
    # The chunk's last pk and the one after it: a chunk that ends the queryset is known
    # as the last, and no empty chunk follows it.
    pks = list(rest.order_by("pk").values_list("pk", flat=True)[CHUNK_RECORDS - 1:CHUNK_RECORDS + 1])
    bound = pks[0] if len(pks) == 2 else None
    chunk = rest if bound is None else rest.filter(pk__lte=bound)
    source = source_for_model(queryset.model)
    if set_based is None:
        set_based = uses_database(queryset.model) and source.reads_email_column
    if set_based:
        processed, left = database.add(mailing, source, chunk, excluded, skip_already_received)
        if left is not None:
            streaming.add(mailing, source, left, excluded, skip_already_received, stream_chunk)
    else:
        processed = streaming.add(mailing, source, chunk, excluded, skip_already_received,
                                  stream_chunk)
    return processed, bound


def uses_database(model):
    """True when records of ``model`` and massmail's tables are both on the default
    database and it is PostgreSQL: the set-based path's statements join them there."""
    return (connection.vendor == "postgresql"
            and router.db_for_write(model) == router.db_for_write(Delivery) == DEFAULT_DB_ALIAS)
