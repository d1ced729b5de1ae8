"""The two writes of every email, on the hot path of a batch.

Before an email leaves, its row must be durably ``sending`` with its Message-ID (so a
crash can never resend it); after it, the outcome is recorded. Done naively that is two
ORM UPDATEs and two commits per email, which cost more than the SMTP transaction itself.
So a successful outcome is held back and written in the same statement as the next
email's ``sending`` mark (or when the batch ends): one round trip and one commit per
email, and the outcome is never later than the next send. If the worker dies in between, the row stays
``sending`` and its lease turns it ``unknown``: never resent, as for any crash mid-send.

The statements are plain SQL with parameters because the ORM's query building cost
about as much as the round trip; they are the same for PostgreSQL and SQLite.
"""

from django.db import connection

from ..models import Delivery


def _sql(template):
    return template.format(table=connection.ops.quote_name(Delivery._meta.db_table))


# One statement, so one round trip and one implicit transaction: the held success
# (if any, else id -1 matches nothing) and the next row's `sending` mark.
_STEP = """
UPDATE {table} SET
    status = CASE WHEN id = %(start)s THEN %(sending)s ELSE %(sent)s END,
    message_id = CASE WHEN id = %(start)s THEN %(message_id)s ELSE message_id END,
    attempted_at = CASE WHEN id = %(start)s THEN %(now)s ELSE attempted_at END,
    attempts = CASE WHEN id = %(start)s THEN attempts + 1 ELSE attempts END,
    sent_at = CASE WHEN id = %(held)s THEN %(sent_at)s ELSE sent_at END,
    lease_until = CASE WHEN id = %(held)s THEN NULL ELSE lease_until END,
    smtp_code = CASE WHEN id = %(held)s THEN %(code)s ELSE smtp_code END,
    smtp_reply = CASE WHEN id = %(held)s THEN %(reply)s ELSE smtp_reply END
WHERE id = %(held)s
   OR (id = %(start)s AND status = %(claimed)s AND lease_owner = %(lease_owner)s)
RETURNING id
"""
_NOTHING = -1


class Journal:
    def __init__(self, lease_owner):
        self.lease_owner = lease_owner
        self.held = None  # (delivery id, code, reply, sent at) of the last email sent

    def start(self, delivery_id, message_id, now):
        """Commit ``sending`` for a claimed row (and the held success); False if the row
        is no longer ours (for example unsubscribed meanwhile): it must not be sent."""
        return delivery_id in self._step(start=delivery_id, message_id=message_id, now=now)

    def sent(self, delivery_id, code, reply, when):
        """Record a success; written with the next start() or flush()."""
        self.held = (delivery_id, code, reply, when)

    def flush(self):
        if self.held:
            self._step(start=_NOTHING, message_id="", now=None)

    def _step(self, *, start, message_id, now):
        held, code, reply, sent_at = self.held or (_NOTHING, None, "", None)
        self.held = None
        with connection.cursor() as cursor:
            cursor.execute(_sql(_STEP), {
                "start": start, "held": held, "message_id": message_id, "now": _when(now),
                "sent_at": _when(sent_at), "code": code, "reply": reply,
                "sending": Delivery.Status.SENDING, "sent": Delivery.Status.SENT,
                "claimed": Delivery.Status.CLAIMED, "lease_owner": self.lease_owner,
            })
            return {row[0] for row in cursor.fetchall()}


def _when(moment):
    return connection.ops.adapt_datetimefield_value(moment) if moment else None
