"""The seam between the engine and the wire.

A batch only moves rows through states.py and hands bytes to a transport; it never
talks SMTP itself. Production uses the SMTP transport (smtp.py); tests and demos can
put ``massmail.sending.transport.InMemoryTransport`` in ``MASSMAIL["TRANSPORT"]`` and
script its replies. Both answer every send with a replies.Verdict and raise
AccountError only when the account cannot send at all.
"""

import abc
import threading

from django.utils.module_loading import import_string

from ..conf import conf
from ..exceptions import MassmailError
from .replies import Blame, Stage, Verdict, classify


class AccountError(MassmailError):
    """The account cannot send at all right now (server down, TLS or login refused).

    ``authentication`` marks a refused login; ``connection`` a server that could not be
    reached or hung up (these count for the circuit breaker)."""

    def __init__(self, message, *, verdict=None, authentication=False, connection=False):
        super().__init__(message)
        self.verdict = verdict
        self.authentication = authentication
        self.connection = connection


class Transport(abc.ABC):
    """What a batch needs of a transport: a session that opens lazily, sends one email
    at a time and closes; usable as a context manager."""

    @abc.abstractmethod
    def ensure_open(self):
        """Open the session unless it is open; AccountError when that fails."""

    @abc.abstractmethod
    def send(self, from_email, to_email, data):
        """Send one email; return its Verdict. Never raises for a recipient's problem."""

    @abc.abstractmethod
    def close(self):
        """End the session, if one is open."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_transport(account):
    """The configured transport for ``account`` (not yet connected)."""
    return import_string(conf.TRANSPORT)(account)


class InMemoryTransport(Transport):
    """Keeps sent emails in ``InMemoryTransport.outbox``; replies can be scripted.

    ``replies`` maps a recipient address to a list of (stage, code, text) used one per
    attempt; an empty or missing list accepts the email.
    """

    outbox = []
    replies = {}
    lock = threading.Lock()

    def __init__(self, account):
        self.account = account
        self.opened = False

    @classmethod
    def reset(cls):
        with cls.lock:
            cls.outbox.clear()
            cls.replies.clear()

    def ensure_open(self):
        self.opened = True

    def send(self, from_email, to_email, data):
        with self.lock:
            scripted = self.replies.get(to_email)
            if scripted:
                return classify(*scripted.pop(0))
            self.outbox.append((from_email, to_email, data))
        return Verdict(Blame.SENT, Stage.END, 250, "2.0.0 Ok: kept in memory")

    def close(self):
        self.opened = False
