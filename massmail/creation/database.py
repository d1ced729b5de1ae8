"""Set-based creation on PostgreSQL: a chunk of host records becomes deliveries in a few
statements, without streaming the records through Python.

1. One ``CREATE TEMP TABLE … AS SELECT`` classifies every record of the chunk with the
   same rules as audience.py, in the same order: another owner, no address, then
   (only for addresses the database can judge, see ``SIMPLE_SHAPE``) not eligible,
   not subscribed, suppressed, and (when asked) already received. NULL means accepted.
2. The exclusions are counted by reason with one ``GROUP BY``.
3. The accepted addresses that the mailing lacks, one per address key (the lowest
   record id wins, as in the streamed path's pk order), get their Recipient rows and
   then their Delivery rows; what the mailing already had, or what came twice, is
   counted as duplicate.
4. Records whose address the database cannot judge exactly as Python does (a separator,
   other whitespace, a quoted local part, an international domain, …) are marked and
   handed to the streamed path, which reads only those rows.

Every lookup is bounded by the chunk, not by the mailing or the host table, so the
millionth record costs what the first did: the mailing's addresses are probed one by
one in its unique key index, Recipient rows are read in the chunk's id range, and
eligible() is asked about the chunk's records only.

The inserts are plain ``INSERT … SELECT``: ``ON CONFLICT`` (a speculative insert per
row) nearly doubled the cost of writing a Recipient row. The mailing has one writer
while it is created (its own transaction on the request, the creation's row lock in the
background) and the new Delivery rows are checked against it first, so the unique key
index never refuses one. Recipient rows are shared with other mailings: another
transaction may write the same ones at the same time, and only then the insert is
repeated with ``ON CONFLICT DO NOTHING``.
"""

import itertools

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Trim

from ..audience import Exclusion, with_eligibility
from ..models import Delivery, Mailing, Recipient, Suppression

# An address that Django's validator, is_valid_email and normalise_email all accept and
# treat exactly as SQL does: an ASCII dot-atom local part, an ASCII domain whose labels
# neither start nor end with "-" and whose last label is alphabetic, no whitespace inside,
# only spaces around (TRIM removed them), and short enough that no label can exceed 63
# characters. Two plain regular expressions instead of one exact one: PostgreSQL's
# bounded repetitions ({0,61}) cost ten times more per row.
SIMPLE_SHAPE = r"^[-!#$%&'*+/=?^_`{}|~0-9A-Za-z.]+@[A-Za-z0-9.-]+\.[A-Za-z][A-Za-z]+$"
NOT_SIMPLE = r"^\.|\.\.|\.@|@[.-]|-\.|\.-|[.-]$"
MAX_SIMPLE_LENGTH = 64
# Stage reason of records left to the streamed path.
IN_PYTHON = "~python"
# The temporary tables of a chunk, numbered: dropping the previous chunk's ones instead
# would make PostgreSQL scan every foreign-key check queued so far in the transaction
# (millions of them in a large creation). They are all dropped at commit.
STAGE = "massmail_creation_stage_{}"
FRESH = "massmail_creation_fresh_{}"
_table_numbers = itertools.count()


def mailing_has_key(key_sql):
    """SQL that is true when the mailing (the one %s parameter) has a delivery to the
    address key ``key_sql`` already: one probe of its unique (key, mailing) index per
    row. A scalar subquery, which PostgreSQL never turns into a join: the planner cannot
    know how many rows a mailing being created has (they are not committed, so never
    analysed), and as a join it would read every delivery of the mailing, chunk after
    chunk."""
    return (f"(SELECT 1 FROM {Delivery._meta.db_table} AS d WHERE d.mailing_id = %s "
            f"AND LOWER(d.email) = {key_sql}) IS NOT NULL")


def add(mailing, source, queryset, excluded, skip_already_received):
    """Add the deliveries of ``queryset`` (records of ``source``) to ``mailing`` and
    count what is left out in the Counter ``excluded``. Returns (records processed, a
    queryset of the records left to the streamed path, or None).

    It runs in the caller's transaction, or in one of its own when there is none: the
    temp tables live until the commit, and ``SET LOCAL`` only lasts a transaction."""
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # JIT compiling costs more than it saves on these statements: up to a second a
        # chunk once their estimated cost crosses jit_optimize_above_cost.
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        cursor.execute("SET LOCAL jit = off")
        number = next(_table_numbers)
        stage, fresh = STAGE.format(number), FRESH.format(number)
        _stage(cursor, stage, mailing, source, queryset, skip_already_received)
        cursor.execute(f"SELECT reason, COUNT(*), MIN(object_id), MAX(object_id) FROM {stage} "
                       f"GROUP BY reason")
        rows = cursor.fetchall()
        counts = {reason: count for reason, count, _lowest, _highest in rows}
        processed = sum(counts.values())
        accepted, to_python = counts.pop(None, 0), counts.pop(IN_PYTHON, 0)
        if accepted:
            ids = next((lowest, highest) for reason, _count, lowest, highest in rows
                       if reason is None)
            written = _write(cursor, stage, fresh, mailing, source, ids)
        else:
            written = 0
        cursor.execute("SELECT set_config('jit', %s, true)", [jit])
    excluded.update(counts)
    if accepted > written:
        excluded[Exclusion.DUPLICATE] += accepted - written
    rest = queryset.filter(pk__in=RawSQL(
        f"SELECT object_id FROM {stage} WHERE reason = %s", [IN_PYTHON])) if to_python else None
    return processed, rest


def _stage(cursor, stage, mailing, source, queryset, skip_already_received):
    """The stage table: the chunk's records with id, address, key and reason.

    The host's queryset gives each record's trimmed address and the facts the rules
    need; ``OFFSET 0`` keeps it a subquery, so each expression is computed once a row.
    The suppression list is joined on its key index; then (when asked) the addresses
    another mailing of the message was sent to, in audience.py's order of precedence."""
    records_sql, records_params = _records(mailing, source, queryset)
    received, received_params = "", []
    if skip_already_received:
        received = (
            f"WHEN EXISTS (SELECT 1 FROM {Delivery._meta.db_table} AS d JOIN "
            f"{Mailing._meta.db_table} AS m ON m.id = d.mailing_id WHERE m.message_id = %s "
            f"AND m.id <> %s AND d.status = %s AND LOWER(d.email) = r.key) THEN %s ")
        received_params = [mailing.message_id, mailing.pk, Delivery.Status.SENT,
                           Exclusion.ALREADY_RECEIVED]
    subscribed = "r.subscribed IS NOT TRUE" if source.subscribed_field else "FALSE"
    cursor.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT r.id AS object_id, "
        f"SPLIT_PART(r.address, '@', 1) || '@' || LOWER(SPLIT_PART(r.address, '@', 2)) AS email, "
        f"r.key, CASE WHEN r.owned IS NOT TRUE THEN %s "
        f"WHEN r.address IS NULL OR r.address = '' THEN %s "
        f"WHEN LENGTH(r.address) > %s OR r.address !~ %s OR r.address ~ %s THEN %s "
        f"WHEN NOT r.eligible THEN %s WHEN {subscribed} THEN %s "
        f"WHEN x.reason = %s THEN %s WHEN x.reason IS NOT NULL THEN %s {received}END AS reason "
        f"FROM (SELECT s.*, LOWER(s.address) AS key FROM ({records_sql}) AS s OFFSET 0) AS r "
        f"LEFT JOIN {Suppression._meta.db_table} AS x ON LOWER(x.email) = r.key",
        [Exclusion.NOT_OWNER, Exclusion.NO_ADDRESS, MAX_SIMPLE_LENGTH, SIMPLE_SHAPE,
         NOT_SIMPLE, IN_PYTHON, Exclusion.NOT_ELIGIBLE, Exclusion.HOST_UNSUBSCRIBED,
         Suppression.Reason.UNSUBSCRIBED, Exclusion.UNSUBSCRIBED, Exclusion.SUPPRESSED,
         *received_params, *records_params])


def _records(mailing, source, queryset):
    """SQL and params of the chunk's records as (id, address, owned, eligible,
    subscribed): the address trimmed of spaces as SQL's TRIM does (other whitespace
    fails ``SIMPLE_SHAPE`` and goes to Python, whose strip() removes it)."""
    owned = Q(**{f"{source.owner_field}_id": mailing.owner_id})
    columns = {"id": F("pk"), "address": Trim(source.email_field),
               "owned": ExpressionWrapper(owned, output_field=BooleanField())}
    if source.subscribed_field:
        columns["subscribed"] = F(source.subscribed_field)
    records = with_eligibility(source, queryset.order_by(), among=queryset).annotate(
        **{f"_mm_{name}": value for name, value in columns.items()})
    aliases = {f"_mm_{name}": name for name in columns} | {"_massmail_eligible": "eligible"}
    sql, params = records.values_list(*aliases).query.sql_with_params()
    outer = ", ".join(f"q.{connection.ops.quote_name(name)} AS {alias}"
                      for name, alias in aliases.items())
    return f"SELECT {outer} FROM ({sql}) AS q", params


def _write(cursor, stage, fresh, mailing, source, ids):
    """Recipient and Delivery rows for the accepted addresses the mailing lacks; returns
    how many deliveries were written. ``ids`` is the (lowest, highest) id of the
    accepted records: it bounds the Recipient rows read.

    The fresh table holds each new delivery with its Recipient id: the existing one
    (looked up only when the chunk's records have Recipient rows at all, as a list
    mailed before has), or one drawn from the Recipient sequence for the row about to be
    written. So neither insert joins a table that it is growing (the planner, which saw
    it empty, would scan it once per row). Whether the mailing has an address already
    is mailing_has_key. The rows are sorted by key in byte order (``COLLATE "C"``, much
    cheaper to compare), so the key index is filled in order."""
    recipients, pk = Recipient._meta.db_table, Recipient._meta.pk.column
    content_type_id = source.content_type.pk
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {recipients} AS r WHERE r.content_type_id = %s "
                   f"AND r.object_id BETWEEN %s AND %s)", [content_type_id, *ids])
    if cursor.fetchone()[0]:  # records mailed before: look their Recipient rows up
        existing = (f"(SELECT r.{pk} FROM {recipients} AS r WHERE r.content_type_id = %s "
                    f"AND r.object_id = s.object_id)", [content_type_id])
    else:
        existing = ("NULL::bigint", [])
    cursor.execute(
        f"CREATE TEMP TABLE {fresh} ON COMMIT DROP AS SELECT object_id, email, "
        f"COALESCE(recipient_id, nextval((SELECT pg_get_serial_sequence(%s, %s)::regclass))) "
        f"AS recipient_id, recipient_id IS NULL AS new FROM (SELECT DISTINCT ON "
        f'(s.key COLLATE "C") s.object_id, s.email, {existing[0]} AS recipient_id '
        f"FROM {stage} AS s WHERE s.reason IS NULL AND NOT {mailing_has_key('s.key')} "
        f'ORDER BY s.key COLLATE "C", s.object_id) AS f',
        [recipients, pk, *existing[1], mailing.pk])
    written = cursor.rowcount
    # One address per record on this path, so object_id is unique in the fresh table.
    insert_recipients = _insert_select(Recipient, {
        pk: ("recipient_id", []), "content_type_id": ("%s", [content_type_id]),
        "object_id": ("object_id", []),
    }, f"{fresh} WHERE new")
    try:
        with transaction.atomic():
            cursor.execute(*insert_recipients)
    except IntegrityError:  # another transaction wrote some of them meanwhile: use those
        cursor.execute(insert_recipients[0] + " ON CONFLICT DO NOTHING", insert_recipients[1])
        cursor.execute(
            f"UPDATE {fresh} AS f SET recipient_id = r.{pk} FROM {recipients} AS r WHERE f.new "
            f"AND r.content_type_id = %s AND r.object_id = f.object_id", [content_type_id])
    cursor.execute(*_insert_select(Delivery, {
        "mailing_id": ("%s", [mailing.pk]), "recipient_id": ("recipient_id", []),
        "email": ("email", []),
    }, fresh))
    return written


def _insert_select(model, values, source_sql):
    """SQL and params of ``INSERT INTO model … SELECT … FROM source_sql``: the columns
    in ``values`` ({attname: (SQL, params)}) and every other column but the primary key
    its model default (or its database default), so fields added to the model later are
    filled as Django would."""
    columns, selects, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.attname not in values and (field.primary_key or field.has_db_default()):
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.attname in values:
            sql, value_params = values[field.attname]
            selects.append(sql)
            params.extend(value_params)
        else:
            selects.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return (f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {', '.join(selects)} FROM {source_sql}", params)
