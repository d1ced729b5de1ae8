"""An embedded SMTP server for the demo: accepts everything on 127.0.0.1 and writes each
email to a .eml file, so nothing leaves the machine."""

import itertools
import logging
import socket
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

# aiosmtpd logs a deprecation warning on every successful login.
logging.getLogger("mail.log").setLevel(logging.ERROR)

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Writer:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        self.received = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            number = next(self.counter)
            self.received += len(envelope.rcpt_tos)
        (self.directory / f"{number:06d}.eml").write_bytes(envelope.original_content)
        return "250 2.0.0 Accepted by the massmail demo server"


def _accept_any_login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


class DemoSMTPServer:
    def __init__(self, directory, port=None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.writer = _Writer(directory)
        self.controller = Controller(
            self.writer, hostname=self.host, port=self.port, authenticator=_accept_any_login,
            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"],
        )

    @property
    def directory(self):
        return self.writer.directory

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
