"""Set-based creation on PostgreSQL: a chunk of host records becomes deliveries in a few
statements, without streaming the records through Python.

1. One ``CREATE TEMP TABLE … AS SELECT`` classifies every record of the chunk with the
   same rules as audience.py, in the same order: another owner, no address, then
   (only for addresses the database can judge, see ``SIMPLE_SHAPE``) not eligible,
   not subscribed; two ``UPDATE … FROM`` joins then mark the suppressed and the
   already received among the rest. NULL means accepted.
2. The exclusions are counted by reason with one ``GROUP BY``.
3. The accepted addresses that the mailing lacks, one per address key (the lowest
   record id wins, as in the streamed path's pk order), get their Recipient rows and
   then their Delivery rows by ``INSERT … SELECT … ON CONFLICT DO NOTHING``; the unique
   key index stays the last word, and what it refuses is counted as duplicate.
4. Records whose address the database cannot judge exactly as Python does (a separator,
   other whitespace, a quoted local part, an international domain, …) are marked and
   handed to the streamed path, which reads only those rows.
"""

from django.db import connection
from django.db.models import Case, CharField, F, Func, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Lower, Trim

from ..audience import Exclusion, with_eligibility
from ..models import Delivery, Mailing, Recipient, Suppression

# An address that Django's validator, is_valid_email and normalise_email all accept and
# treat exactly as SQL does: an ASCII dot-atom local part, an ASCII domain whose labels
# neither start nor end with "-" and whose last label is alphabetic, no whitespace inside,
# only spaces around, and short enough that no label can exceed 63 characters. Two plain
# regular expressions instead of one exact one: PostgreSQL's bounded repetitions
# ({0,61}) cost ten times more per row.
SIMPLE_SHAPE = r"^ *[-!#$%&'*+/=?^_`{}|~0-9A-Za-z.]+@[A-Za-z0-9.-]+\.[A-Za-z][A-Za-z]+ *$"
NOT_SIMPLE = r"^ *\.|\.\.|\.@|@[.-]|-\.|\.-|[.-] *$"
MAX_SIMPLE_LENGTH = 64
# Stage reason of records left to the streamed path.
IN_PYTHON = "~python"
STAGE = "massmail_creation_stage"
FRESH = "massmail_creation_fresh"


class SplitPart(Func):
    function = "SPLIT_PART"
    output_field = CharField()


def add(mailing, source, queryset, excluded, skip_already_received):
    """Add the deliveries of ``queryset`` (records of ``source``) to ``mailing`` and
    count what is left out in the Counter ``excluded``. Returns (records processed, a
    queryset of the records left to the streamed path, or None)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, {FRESH}")
        sql, params = _classified(mailing, source, queryset)
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT _mm_id AS object_id, "
            f"_mm_email AS email, _mm_key AS key, _mm_reason AS reason FROM ({sql}) AS s",
            params)
        _mark_suppressed(cursor, mailing, skip_already_received)
        cursor.execute(f"SELECT reason, COUNT(*) FROM {STAGE} GROUP BY reason")
        by_reason = dict(cursor.fetchall())
        accepted = by_reason.pop(None, 0)
        to_python = by_reason.pop(IN_PYTHON, 0)
        _write(cursor, mailing, source)
        inserted = cursor.rowcount
    excluded.update(by_reason)
    if accepted > inserted:
        excluded[Exclusion.DUPLICATE] += accepted - inserted
    # Read by the streamed path before the next chunk replaces the stage table.
    rest = queryset.filter(pk__in=RawSQL(
        f"SELECT object_id FROM {STAGE} WHERE reason = %s", [IN_PYTHON])) if to_python else None
    return accepted + to_python + sum(by_reason.values()), rest


def _classified(mailing, source, queryset):
    """SQL and params of the chunk's records with id, address, key and the reason of
    the rules about the record itself (suppressions follow in _mark_suppressed)."""
    column = source.email_field
    trimmed = Trim(column)
    rules = [
        When(~Q(**{f"{source.owner_field}_id": mailing.owner_id}), then=Value(Exclusion.NOT_OWNER)),
        When(Q(**{f"{column}__isnull": True}) | Q(_mm_trimmed=""),
             then=Value(Exclusion.NO_ADDRESS)),
        When(Q(_mm_length__gt=MAX_SIMPLE_LENGTH) | ~Q(**{f"{column}__regex": SIMPLE_SHAPE})
             | Q(**{f"{column}__regex": NOT_SIMPLE}), then=Value(IN_PYTHON)),
        When(_massmail_eligible=False, then=Value(Exclusion.NOT_ELIGIBLE)),
    ]
    if source.subscribed_field:
        rules.append(When(Q(**{source.subscribed_field: False})
                          | Q(**{f"{source.subscribed_field}__isnull": True}),
                          then=Value(Exclusion.HOST_UNSUBSCRIBED)))
    staged = with_eligibility(source, queryset.order_by()).annotate(
        _mm_trimmed=trimmed, _mm_length=Func(trimmed, function="LENGTH"),
    ).annotate(
        _mm_id=F("pk"),
        _mm_email=Concat(SplitPart(trimmed, Value("@"), Value(1)), Value("@"),
                         Lower(SplitPart(trimmed, Value("@"), Value(2))), output_field=CharField()),
        _mm_key=Lower(trimmed),
        _mm_reason=Case(*rules, default=None, output_field=CharField()),
    ).values_list("_mm_id", "_mm_email", "_mm_key", "_mm_reason")
    return staged.query.sql_with_params()


def _mark_suppressed(cursor, mailing, skip_already_received):
    """Mark the accepted addresses that are suppressed, then (when asked) those another
    mailing of the message was sent to: joins on the key indexes, in this order of
    precedence, as audience.py does."""
    cursor.execute(
        f"UPDATE {STAGE} AS s SET reason = CASE WHEN x.reason = %s THEN %s ELSE %s END "
        f"FROM {Suppression._meta.db_table} AS x WHERE s.reason IS NULL AND LOWER(x.email) = s.key",
        [Suppression.Reason.UNSUBSCRIBED, Exclusion.UNSUBSCRIBED, Exclusion.SUPPRESSED])
    if skip_already_received:
        cursor.execute(
            f"UPDATE {STAGE} AS s SET reason = %s WHERE s.reason IS NULL AND EXISTS (SELECT 1 "
            f"FROM {Delivery._meta.db_table} AS d JOIN {Mailing._meta.db_table} AS m ON "
            f"m.id = d.mailing_id WHERE m.message_id = %s AND m.id <> %s AND d.status = %s "
            f"AND LOWER(d.email) = s.key)",
            [Exclusion.ALREADY_RECEIVED, mailing.message_id, mailing.pk, Delivery.Status.SENT])


def _write(cursor, mailing, source):
    """Recipient and Delivery rows for the accepted addresses the mailing lacks; leaves
    the number of deliveries written in ``cursor.rowcount``."""
    cursor.execute(
        f"CREATE TEMP TABLE {FRESH} ON COMMIT DROP AS SELECT DISTINCT ON (key) object_id, email "
        f"FROM {STAGE} AS s WHERE reason IS NULL AND NOT EXISTS (SELECT 1 FROM "
        f"{Delivery._meta.db_table} AS d WHERE d.mailing_id = %s AND LOWER(d.email) = s.key) "
        f"ORDER BY key, object_id", [mailing.pk])
    content_type_id = source.content_type.pk
    _insert_select(cursor, Recipient, {
        "content_type_id": ("%s", [content_type_id]), "object_id": ("object_id", []),
    }, f"(SELECT DISTINCT object_id FROM {FRESH}) AS f")
    _insert_select(cursor, Delivery, {
        "mailing_id": ("%s", [mailing.pk]), "recipient_id": ("r.id", []), "email": ("f.email", []),
    }, f"{FRESH} AS f JOIN {Recipient._meta.db_table} AS r ON r.content_type_id = %s "
       f"AND r.object_id = f.object_id", [content_type_id])


def _insert_select(cursor, model, values, source_sql, source_params=()):
    """``INSERT INTO model … SELECT … FROM source_sql ON CONFLICT DO NOTHING``: the
    columns in ``values`` ({attname: (SQL, params)}) and every other column its
    model default (or its database default), so fields added to the model later are
    filled as Django would."""
    columns, selects, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or (field.attname not in values and field.has_db_default()):
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in values:
            sql, value_params = values[field.attname]
            selects.append(sql)
            params.extend(value_params)
        else:
            selects.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(selects)} "
        f"FROM {source_sql} ON CONFLICT DO NOTHING", [*params, *source_params])
