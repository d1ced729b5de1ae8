"""A real SMTP server for tests (aiosmtpd on a free 127.0.0.1 port).

It records what it accepts and can be told to answer like a provider would: a reply
per recipient (421, 451, 550, 552 quota text...), a password that AUTH accepts, or a
dropped connection after a number of messages.
"""

import email
import email.policy
import logging
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd logs a deprecation warning on every successful login.
logging.getLogger("mail.log").setLevel(logging.ERROR)

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    data: bytes

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class Handler:
    messages: list = field(default_factory=list)
    # address -> list of replies used one per RCPT attempt ("451 4.7.1 Try later");
    # when the list is empty the address is accepted.
    rcpt_replies: dict = field(default_factory=dict)
    # address -> list of replies to the end of the data, one per attempt (the data has
    # arrived; "552 5.2.2 Mailbox full", "550 5.7.26 ..."); empty or missing: accepted.
    data_replies: dict = field(default_factory=dict)
    # After N accepted messages, hang up on the next one (None: never): at its RCPT,
    # before any data ("rcpt"), or after all its data arrived, without a reply ("data").
    # With ``drop_always`` it hangs up on every message from then on (a broken relay).
    drop_after: int | None = None
    drop_at: str = "rcpt"
    drop_always: bool = False
    # Messages whose data arrived when the server hung up without replying.
    swallowed: list = field(default_factory=list)
    # Called after each accepted message (tests move time forward with it).
    on_message: object = None
    connections: int = 0
    # Offer PIPELINING (RFC 2920) in the EHLO reply, as real servers do.
    pipelining: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    def hang_up(self, server, at):
        """True (and the connection closed) when this is the moment to hang up."""
        if self.drop_at != at or self.drop_after is None or len(self.messages) < self.drop_after:
            return False
        if not self.drop_always:
            self.drop_after = None
        server.transport.close()
        return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self.hang_up(server, "rcpt"):
                return "421 4.3.2 Connection dropped by test"
            replies = self.rcpt_replies.get(address)
            reply = replies.pop(0) if replies else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.hang_up(server, "data"):
                self.swallowed.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               envelope.original_content))
                return "250 2.0.0 never heard: the connection is closed"
            replies = [self.data_replies.get(rcpt) for rcpt in envelope.rcpt_tos]
            reply = next((r.pop(0) for r in replies if r), None)
            if reply:
                return reply
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content))
        if self.on_message:
            self.on_message()
        return "250 2.0.0 Message accepted"

    def recipients(self):
        """Every accepted recipient address, in order (one entry per RCPT)."""
        return [rcpt for msg in self.messages for rcpt in msg.rcpt_tos]


class Authenticator:
    """Accepts any login when ``password`` is None, else only that password."""

    def __init__(self):
        self.password = None

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = self.password is None or auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


class SMTPServer:
    def __init__(self, handler=None, smtputf8=False):
        self.handler = handler or Handler()
        self.authenticator = Authenticator()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname=self.host, port=self.port,
            authenticator=self.authenticator, auth_require_tls=False, auth_required=False,
            # smtplib falls back from a refused PLAIN to LOGIN, which aiosmtpd leaves hanging.
            auth_exclude_mechanism=["LOGIN"], enable_SMTPUTF8=smtputf8,
        )

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages
