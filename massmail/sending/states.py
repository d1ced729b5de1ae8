"""Every status change of a Delivery, each one named function with its guards.

    pending --claim--> claimed --mark_sending--> sending --mark_sent--> sent
       ^                  |                         |----fail--------> failed
       |                  |--release--> pending     |----mark_unknown-> unknown
       |                  |--skip-----> skipped     |----retry_later--> pending (later)
       |                                            |----unsend-------> claimed
       +-------- resend (failed, unknown) ----------+
    expire: claimed rows past their lease -> pending; sending rows -> unknown.

A transition names the status it expects and, for a batch's rows, the lease owner, so a
batch that lost its lease (or a row unsubscribed meanwhile) can never be overwritten.
``claim`` takes the account's budget under a lock on the account row, so concurrent
claimers together never exceed a limit. The hot-path writes (mark_sending, mark_sent)
are plain SQL for a group of rows at a time, written together in one round trip
(write_together); journal.py decides when.
"""

import datetime
import uuid

from django.db import connection, transaction
from django.db.models import F, Q

from ..conf import conf
from ..models import Delivery, EarlierAttempt, EmailAccount
from . import limits

Status = Delivery.Status
OPEN = (Status.PENDING, Status.CLAIMED, Status.SENDING)
WAITING = (Status.PENDING, Status.CLAIMED)
WORKER_STOPPED = "The worker stopped while sending; the email may or may not have left."


def new_lease_owner():
    return uuid.uuid4().hex


def lease_until(now):
    return now + datetime.timedelta(seconds=conf.LEASE_SECONDS)


def sendable(queryset, now):
    """Pending rows whose retry time, if any, has come."""
    return queryset.filter(status=Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def claim(mailing, account, now, settings, lease_owner, size=None):
    """pending -> claimed: up to ``size`` rows of ``mailing`` for ``account`` within its
    budget. Returns the ids claimed (possibly none). Rows tried fewer times go first, so
    a row that keeps failing never blocks the others."""
    size = size or conf.BATCH_SIZE
    with transaction.atomic():
        account = EmailAccount.objects.select_for_update().defer("password").get(pk=account.pk)
        if account.disabled_at or not account.massmail or (
            account.paused_until and account.paused_until > now
        ):
            return []
        budget = min(size, limits.remaining(account, now, settings))
        if budget <= 0:
            return []
        rows = sendable(Delivery.objects.filter(mailing=mailing, account=account), now)
        if account.main:
            rows = rows.filter(recipient__vip=True)
        ids = list(
            rows.order_by("attempts", "id").select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:budget]
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Status.CLAIMED, lease_until=lease_until(now), lease_owner=lease_owner,
        )
    return ids


def release(ids, lease_owner, **changes):
    """claimed -> pending: rows this batch will not attempt."""
    return Delivery.objects.filter(
        pk__in=ids, status=Status.CLAIMED, lease_owner=lease_owner
    ).update(status=Status.PENDING, lease_until=None, lease_owner="", **changes)


def release_all(lease_owner):
    """claimed -> pending: every row still claimed by this batch (after an error)."""
    return Delivery.objects.filter(status=Status.CLAIMED, lease_owner=lease_owner).update(
        status=Status.PENDING, lease_until=None, lease_owner="")


def skip(ids, lease_owner, reason):
    """claimed -> skipped: the send-time checks refused these rows."""
    return Delivery.objects.filter(pk__in=ids, status=Status.CLAIMED, lease_owner=lease_owner
                                   ).update(status=Status.SKIPPED, skip_reason=reason,
                                            lease_until=None)


def skip_unsendable(delivery_id, lease_owner, verdict, reason):
    """sending -> skipped: the transport cannot carry this address (nothing was sent)."""
    return _finish(delivery_id, lease_owner, verdict, status=Status.SKIPPED, skip_reason=reason,
                   attempts=F("attempts") - 1)


def skip_waiting(rows, reason):
    """pending/claimed -> skipped for ``rows`` of any batch (an unsubscribe). A claimed
    row is only reserved by a batch, so it is skipped too: mark_sending moves a row on
    only while it is still claimed, which stops a batch already under way. A row already
    ``sending`` is past stopping. Returns how many."""
    return rows.filter(status__in=WAITING).update(
        status=Status.SKIPPED, skip_reason=reason, lease_until=None, lease_owner="",
        next_attempt_at=None)


def mark_sending(rows, lease_owner, account_id, now):
    """claimed -> sending for each (id, Message-ID) of ``rows``, as a statement for
    ``write_together``: it must be committed before the emails leave. It returns the ids
    now ours to send: a row no longer claimed by us (unsubscribed meanwhile) is left
    out. The row's account becomes the one sending it, whatever a concurrent routing
    wrote, so that limits count the attempt where it happens."""
    cases = " ".join(["WHEN %s THEN %s"] * len(rows))
    params = [Status.SENDING, account_id]
    for delivery_id, message_id in rows:
        params += [delivery_id, message_id]
    params += [_when(now), *(delivery_id for delivery_id, _ in rows), Status.CLAIMED, lease_owner]
    return (
        f"UPDATE {_table()} SET status = %s, account_id = %s, "
        f"message_id = CASE id {cases} END, attempted_at = %s, attempts = attempts + 1 "
        f"WHERE id IN ({', '.join(['%s'] * len(rows))}) AND status = %s AND lease_owner = %s "
        f"RETURNING id",
        params,
    )


def mark_sent(held, lease_owner):
    """sending -> sent for each held (code, reply, sent_at, id) of this batch, as a
    statement for ``write_together``: one UPDATE joined to a VALUES list."""
    table = _table()
    params = [Status.SENT]
    for code, reply, sent_at, delivery_id in held:
        params += [delivery_id, code, reply, _when(sent_at)]
    params += [Status.SENDING, lease_owner]
    return (
        f"UPDATE {table} SET status = %s, lease_until = NULL, "
        f"smtp_code = CAST(v.column2 AS integer), smtp_reply = v.column3, sent_at = v.column4 "
        f"FROM (VALUES {', '.join(['(%s, %s, %s, %s)'] * len(held))}) AS v "
        f"WHERE {table}.id = v.column1 AND {table}.status = %s AND {table}.lease_owner = %s",
        params,
    )


def write_together(statements, db=connection):
    """Run the (sql, params) ``statements`` in one transaction on ``db``; returns the
    rows the first one returns (if any).

    Where writes_in_one_request(db), they go as one query string: the server runs a
    multi-statement query as one implicit transaction, so the hot path pays one round
    trip instead of BEGIN, each statement and COMMIT. Elsewhere they run one by one in a
    transaction.
    """
    with db.cursor() as cursor:
        if writes_in_one_request(db):
            cursor.execute("; ".join(sql for sql, _params in statements),
                           [value for _sql, params in statements for value in params])
            return cursor.fetchall() if cursor.description else []
        with transaction.atomic(using=db.alias):
            rows = []
            for index, (sql, params) in enumerate(statements):
                cursor.execute(sql, params)
                if index == 0 and cursor.description:
                    rows = cursor.fetchall()
            return rows


def writes_in_one_request(db):
    """PostgreSQL with client-side parameter binding (Django's default): statements
    can be sent together as one query string, from any thread sharing ``db``."""
    return db.vendor == "postgresql" and not db.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding")


def unsend(ids, lease_owner):
    """sending -> claimed: rows marked but never handed to the transport."""
    if ids:
        Delivery.objects.filter(pk__in=ids, status=Status.SENDING, lease_owner=lease_owner).update(
            status=Status.CLAIMED, message_id="", attempted_at=None, attempts=F("attempts") - 1)


def _finish(delivery_id, owner, verdict, **changes):
    """sending -> anything, for the row this batch (``owner``) is sending."""
    return Delivery.objects.filter(pk=delivery_id, status=Status.SENDING, lease_owner=owner
                                   ).update(lease_until=None, smtp_code=verdict.code,
                                            smtp_reply=verdict.reply[:2000], **changes)


def fail(delivery_id, lease_owner, verdict):
    """sending -> failed."""
    return _finish(delivery_id, lease_owner, verdict, status=Status.FAILED)


def mark_unknown(delivery_id, lease_owner, verdict):
    """sending -> unknown: the data may have reached the server; never resent by itself."""
    return _finish(delivery_id, lease_owner, verdict, status=Status.UNKNOWN)


def retry_later(delivery_id, lease_owner, verdict, when, *, count_attempt=True):
    """sending -> pending at ``when``. With ``count_attempt`` the attempt is kept for the
    limits (the row's attempted_at is overwritten by the next try); without it (the
    account, not the recipient, was refused) the attempt does not count at all."""
    with transaction.atomic():
        row = Delivery.objects.filter(pk=delivery_id, status=Status.SENDING,
                                      lease_owner=lease_owner)
        sent_by = row.values_list("account_id", "attempted_at").first()
        changes = {} if count_attempt else {"attempts": F("attempts") - 1}
        moved = _finish(delivery_id, lease_owner, verdict, status=Status.PENDING, lease_owner="",
                        next_attempt_at=when, **changes)
        if moved and count_attempt and sent_by and sent_by[0]:
            EarlierAttempt.objects.create(account_id=sent_by[0], attempted_at=sent_by[1])
    return moved


def renew(lease_owner, now):
    """Heartbeat: extend the leases of this batch's claimed and sending rows."""
    return Delivery.objects.filter(lease_owner=lease_owner, status__in=(Status.CLAIMED,
                                                                        Status.SENDING)
                                   ).update(lease_until=lease_until(now))


def expire(now):
    """Leases past their time: claimed rows go back to pending (never attempted);
    sending rows become unknown (at most once). Returns both counts."""
    expired = Q(lease_until__lt=now)
    returned = Delivery.objects.filter(expired, status=Status.CLAIMED).update(
        status=Status.PENDING, lease_until=None, lease_owner="")
    unknown = Delivery.objects.filter(expired, status=Status.SENDING).update(
        status=Status.UNKNOWN, lease_until=None, smtp_reply=WORKER_STOPPED)
    return returned, unknown


def resend(rows):
    """failed/unknown -> pending, by a manager's explicit choice. Returns the ids.

    Unknown rows may already have reached the recipient: only that choice resends them.
    The earlier attempts stay counted for the limits."""
    rows = rows.filter(status__in=[Status.FAILED, Status.UNKNOWN])
    with transaction.atomic():
        chosen = list(rows.select_for_update().values_list("id", "account_id", "attempted_at"))
        EarlierAttempt.objects.bulk_create(
            EarlierAttempt(account_id=account, attempted_at=at)
            for _id, account, at in chosen if account and at)
        ids = [pk for pk, _account, _at in chosen]
        Delivery.objects.filter(pk__in=ids).update(
            status=Status.PENDING, attempts=0, next_attempt_at=None, lease_until=None,
            lease_owner="", skip_reason="")
    return ids


def _table():
    return connection.ops.quote_name(Delivery._meta.db_table)


def _when(moment):
    return connection.ops.adapt_datetimefield_value(moment)
