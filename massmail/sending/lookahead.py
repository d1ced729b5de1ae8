"""The next group of a batch, made ready while the current group is on the wire.

Before a group's emails leave they must be rendered, and their rows committed
``sending`` (journal.py). Done between two groups, the commit alone took a fifth of the
engine's time: every email of the group waited for PostgreSQL. So while the current
group is being sent, a helper thread renders the next one and commits it ``sending``,
with the successes held so far, on this thread's own database connection (Django's
thread sharing; no second connection, and the same transaction in a test). Rendering is
CPU and the commit waits for PostgreSQL while SMTP waits for the server, so both hide
behind the network. The emails of a group still leave only once its commit is done
(``take``), so no email is ever sent unrecorded.

The connection is shared, never used by both threads at once: while the helper works,
any query of this thread first waits for it (an execute wrapper), and so does anything
that may open a transaction (``settle``). Where the rows cannot be written in one request
from another thread (see states.writes_in_one_request), the helper only renders and this
thread commits.

The price is in crashes only: a worker killed mid-group leaves that group and the one
made ready after it ``sending``, so at most two groups become ``unknown``.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import get_script_prefix, get_urlconf, set_script_prefix, set_urlconf
from django.utils import timezone

from . import states


class Lookahead:
    """Use as a context manager around the sending of one claim's groups."""

    def __init__(self, build_group, journal):
        self.build_group = build_group  # [target] -> [(target, Message-ID, bytes)]
        self.journal = journal
        self.db = connections[DEFAULT_DB_ALIAS]  # this thread's, not the helper's
        self.thread = threading.current_thread()
        self.pending = None  # (future, held successes it writes)
        self.ready = None  # (emails, ids now ours to send)

    def __enter__(self):
        # The helper builds unsubscribe URLs: give it this thread's URL context.
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="massmail-lookahead", initializer=_use_url_context,
            initargs=(get_script_prefix(), get_urlconf()))
        self.db.inc_thread_sharing()
        self.wrapper = self.db.execute_wrapper(self._wait_first)
        self.wrapper.__enter__()
        return self

    def __exit__(self, *exc_info):
        try:
            self.withdraw()
        finally:
            self.wrapper.__exit__(*exc_info)
            self.executor.shutdown()
            self.db.dec_thread_sharing()

    def prepare(self, group):
        """Start making ``group`` ready: render it, then commit it ``sending``."""
        held = self.journal.take()
        self.pending = (self.executor.submit(self._prepare, group, held), held)

    def take(self):
        """The group made ready: (emails, ids now ours to send)."""
        self.settle()
        ready, self.ready = self.ready, None
        return ready

    def settle(self):
        """Wait for the helper; call before this thread may open a transaction."""
        if self.pending is None:
            return
        (future, held), self.pending = self.pending, None
        try:
            emails, started = future.result()
            if started is None:  # the helper could only render
                started = self.journal.start(_rows(emails), timezone.now(), held)
        except Exception:
            self.journal.hold(held)  # not written: written with the next write
            raise
        self.ready = (emails, started)

    def withdraw(self):
        """Give the group made ready back unsent: its rows return to ``claimed``."""
        self.settle()
        if self.ready:
            _emails, started = self.ready
            self.ready = None
            states.unsend(list(started), self.journal.lease_owner)

    def _prepare(self, group, held):
        emails = self.build_group(group)
        if not states.writes_in_one_request(self.db):
            return emails, None
        return emails, self.journal.start(_rows(emails), timezone.now(), held, db=self.db)

    def _wait_first(self, execute, sql, params, many, context):
        if threading.current_thread() is self.thread:
            self.settle()
        return execute(sql, params, many, context)


def _rows(emails):
    return [(target.delivery.pk, message_id) for target, message_id, _data in emails]


def _use_url_context(script_prefix, urlconf):
    set_script_prefix(script_prefix)
    set_urlconf(urlconf)
