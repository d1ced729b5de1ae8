"""The writes of every email, on the hot path of a batch.

Before an email leaves, its row must be durably ``sending`` with its Message-ID (so a
crash can never resend it); after it, the outcome is recorded. Done naively that is two
UPDATEs and two commits per email, which cost more than the SMTP transaction itself.

So a batch marks a small group of rows (``SENDING_GROUP``, default 10) ``sending`` in one
statement and one commit before sending them one by one, and holds their successes back
until the next group is marked (same transaction) or the batch ends. Every email is
still committed ``sending`` before it leaves and never resent. The price is in crashes
only: rows of the group not yet attempted when a worker dies become ``unknown`` too (at
most one group's worth), and a manager can resend them. Rows that a living batch did
not attempt (it stopped at the window's end, say) are given back with ``unsend``.

The statements are plain SQL with parameters because the ORM's query building cost
about as much as the round trip; they are the same for PostgreSQL and SQLite.
"""

from django.db import connection, transaction
from django.db.models import F

from ..models import Delivery


def _table():
    return connection.ops.quote_name(Delivery._meta.db_table)


class Journal:
    def __init__(self, lease_owner, account_id):
        self.lease_owner = lease_owner
        self.account_id = account_id
        self.held = []  # parameters of the success of each email sent since the last write

    def start(self, rows, now):
        """Commit ``sending`` with its Message-ID for each claimed (id, message id) row,
        and the held successes. Returns the ids now ours to send: a row unsubscribed
        meanwhile (no longer claimed by us) is left out and must not be sent.

        The row's account becomes the one sending it, whatever a concurrent routing
        wrote meanwhile, so that limits count the attempt where it happens."""
        if not rows:
            return set()
        cases = " ".join(["WHEN %s THEN %s"] * len(rows))
        ids = ", ".join(["%s"] * len(rows))
        params = [Delivery.Status.SENDING, self.account_id]
        for delivery_id, message_id in rows:
            params += [delivery_id, message_id]
        params += [_when(now), *(delivery_id for delivery_id, _ in rows),
                   Delivery.Status.CLAIMED, self.lease_owner]
        with transaction.atomic(), connection.cursor() as cursor:
            self._write_held(cursor)
            cursor.execute(
                f"UPDATE {_table()} SET status = %s, account_id = %s, "
                f"message_id = CASE id {cases} END, "
                f"attempted_at = %s, attempts = attempts + 1 "
                f"WHERE id IN ({ids}) AND status = %s AND lease_owner = %s RETURNING id",
                params,
            )
            return {row[0] for row in cursor.fetchall()}

    def sent(self, delivery_id, code, reply, when):
        """Record a success; written with the next start() or flush()."""
        self.held.append((code, reply, _when(when), delivery_id))

    def flush(self):
        if self.held:
            with transaction.atomic(), connection.cursor() as cursor:
                self._write_held(cursor)

    def unsend(self, ids):
        """Give back rows marked ``sending`` that were never attempted, as ``claimed``."""
        if not ids:
            return
        Delivery.objects.filter(
            pk__in=ids, status=Delivery.Status.SENDING, lease_owner=self.lease_owner
        ).update(status=Delivery.Status.CLAIMED, message_id="", attempted_at=None,
                 attempts=F("attempts") - 1)

    def _write_held(self, cursor):
        if not self.held:
            return
        cases = " ".join(["WHEN %s THEN %s"] * len(self.held))
        params = [Delivery.Status.SENT]
        for column in range(3):  # smtp_code, smtp_reply, sent_at
            for row in self.held:
                params += [row[-1], row[column]]
        params += [row[-1] for row in self.held]
        cursor.execute(
            f"UPDATE {_table()} SET status = %s, lease_until = NULL, "
            f"smtp_code = CASE id {cases} END, smtp_reply = CASE id {cases} END, "
            f"sent_at = CASE id {cases} END WHERE id IN ({', '.join(['%s'] * len(self.held))})",
            params,
        )
        self.held = []


def _when(moment):
    return connection.ops.adapt_datetimefield_value(moment)
