"""When the hot-path writes of a batch happen.

Before an email leaves, its row must be durably ``sending`` with its Message-ID (so a
crash can never resend it); after it, the outcome is recorded. Done naively that is two
UPDATEs and two commits per email, which cost more than the SMTP transaction itself.

So a batch marks a small group of rows (``SENDING_GROUP``, default 10) ``sending`` in one
statement and one commit before sending them one by one, and holds their successes back
until the next group is marked (same transaction) or the batch ends. The next group is
marked while the current one is on the wire (lookahead.py). Every email is still
committed ``sending`` before it leaves and never resent. The price is in crashes only:
rows marked but not yet attempted when a worker dies become ``unknown`` too (at most two
groups' worth), and a manager can resend them. The transitions themselves are
states.mark_sending and states.mark_sent.
"""

from django.db import connection

from . import states


class Journal:
    def __init__(self, lease_owner, account_id):
        self.lease_owner = lease_owner
        self.account_id = account_id
        self.held = []  # (code, reply, sent_at, id) of each email sent since the last write

    def start(self, rows, now, held=(), db=connection):
        """Commit ``sending`` for each claimed (id, Message-ID) row, and the ``held``
        successes (see take), in one transaction on ``db``. Returns the ids now ours to
        send."""
        statements = [states.mark_sending(rows, self.lease_owner, self.account_id, now)]
        if held:
            statements.append(states.mark_sent(held, self.lease_owner))
        return {row[0] for row in states.write_together(statements, db)}

    def sent(self, delivery_id, code, reply, when):
        """Record a success; written with the next start() or flush()."""
        self.held.append((code, reply, when, delivery_id))

    def forget(self, delivery_id):
        """Drop the held success of a row whose recording failed: it becomes unknown."""
        self.held = [row for row in self.held if row[-1] != delivery_id]

    def take(self):
        """The successes held so far, for start(): the caller writes them now."""
        held, self.held = self.held, []
        return held

    def hold(self, held):
        """Hold again successes taken but not written (their write failed)."""
        self.held[:0] = held

    def flush(self):
        if self.held:
            states.write_together([states.mark_sent(self.take(), self.lease_owner)])
