"""A private Postfix (Debian's) for tests that need a genuine delivery status
notification: it accepts a message over SMTP, relays it to a test server that refuses
the recipient, and writes the RFC 3464 report it generates into the sender's Maildir,
which the test Dovecot serves.

Its own configuration, queue and data directories (``postfix -c DIR start-fg``, so the
master process is the test's child), listening on 127.0.0.1 only, DNS lookups off,
every service unchrooted, logging to a file of its own; the machine's Postfix is never
touched. Postfix needs root to start; elsewhere ``available()`` is False.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .smtp import free_port

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.{domain}
mydomain = {domain}
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
relayhost = [127.0.0.1]:{relay_port}
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail_root}
virtual_mailbox_maps = texthash:{root}/conf/mailboxes
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
"""

# master.cf lines (name, type, private, process limit, command), all unchrooted; the
# services whose limit is 1 refuse to run otherwise, and those in PRIVILEGED run as root.
PRIVILEGED = {"virtual"}
SERVICES = [
    ("127.0.0.1:{port}", "inet", "n", "-", "smtpd"), ("pickup", "unix", "n", "1", "pickup"),
    ("cleanup", "unix", "n", "0", "cleanup"), ("qmgr", "unix", "n", "1", "qmgr"),
    ("rewrite", "unix", "-", "-", "trivial-rewrite"), ("bounce", "unix", "-", "0", "bounce"),
    ("defer", "unix", "-", "0", "bounce"), ("trace", "unix", "-", "0", "bounce"),
    ("verify", "unix", "-", "1", "verify"), ("flush", "unix", "n", "0", "flush"),
    ("proxymap", "unix", "-", "-", "proxymap"), ("smtp", "unix", "-", "-", "smtp"),
    ("relay", "unix", "-", "-", "smtp"), ("showq", "unix", "n", "-", "showq"),
    ("error", "unix", "-", "-", "error"), ("retry", "unix", "-", "-", "error"),
    ("discard", "unix", "-", "-", "discard"), ("virtual", "unix", "-", "-", "virtual"),
    ("anvil", "unix", "-", "1", "anvil"), ("scache", "unix", "-", "1", "scache"),
    ("postlog", "unix-dgram", "n", "1", "postlogd"),
]


def available():
    return os.path.exists(POSTFIX) and os.geteuid() == 0


class Postfix:
    """Relays everything to 127.0.0.1:``relay_port``; mail for ``mailbox`` goes into
    ``maildir`` (of Dovecot's mail root), owned by ``uid``:``gid``."""

    def __init__(self, *, relay_port, mailbox, maildir, uid, gid):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.relay_port = relay_port
        self.mailbox = mailbox
        self.maildir = Path(maildir)
        self.uid, self.gid = uid, gid
        self.root = Path(tempfile.mkdtemp(prefix="massmail-postfix-"))
        self.process = None

    def _configure(self):
        self.root.chmod(0o755)  # Postfix's own user works below it
        for sub in ("conf", "queue", "data"):
            (self.root / sub).mkdir()
        shutil.chown(self.root / "data", "postfix")
        conf = self.root / "conf"
        (conf / "main.cf").write_text(MAIN_CF.format(
            root=self.root, domain=self.mailbox.rpartition("@")[2], relay_port=self.relay_port,
            mail_root=self.maildir.parent, uid=self.uid, gid=self.gid))
        (conf / "master.cf").write_text("".join(
            f"{name.format(port=self.port)} {kind} {private} {'n' if command in PRIVILEGED else '-'}"
            f" n - {limit} {command}\n"
            for name, kind, private, limit, command in SERVICES))
        (conf / "mailboxes").write_text(f"{self.mailbox} {self.maildir.name}/\n")

    def start(self):
        self._configure()
        self.process = subprocess.Popen([POSTFIX, "-c", str(self.root / "conf"), "start-fg"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("postfix did not start")

    def stop(self):
        subprocess.run([POSTFIX, "-c", str(self.root / "conf"), "stop"], capture_output=True,
                       timeout=60)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        path = self.root / "maillog"
        return path.read_text() if path.exists() else ""
