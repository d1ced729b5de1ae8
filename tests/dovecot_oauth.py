"""A private Dovecot (Debian's dovecot-imapd) that signs in with XOAUTH2 against the fake
provider, for tests.

Its ``oauth2`` passdb asks the provider's RFC 7662 introspection endpoint whether a
bearer token is active and whose it is, as a Dovecot in front of a real identity
provider does; a static passdb takes plain passwords, for password accounts. It runs in
the foreground of a child process with its own configuration, sockets and mail under a
temporary directory, on a free 127.0.0.1 port, and serves each user's Maildir.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

from massmail.oauth.login import imap_login

from .smtp import free_port

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "imap-secret"

CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:{dir}/home/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
passdb {{
  driver = static
  mechanisms = plain login
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={dir}/home/%u
}}
"""

OAUTH2 = """\
introspection_mode = post
introspection_url = {provider}/introspect
username_attribute = username
active_attribute = active
active_value = true
"""


class Dovecot:
    def __init__(self, provider_url):
        # A short path: Dovecot's unix sockets live under it.
        self.dir = Path(tempfile.mkdtemp(prefix="mm-oauth-dovecot-"))
        self.dir.chmod(0o755)
        (self.dir / "home").mkdir()
        (self.dir / "home").chmod(0o777)  # Dovecot makes each user's home as "dovecot"
        self.host, self.port = "127.0.0.1", free_port()
        self.config = self.dir / "dovecot.conf"
        self.config.write_text(CONFIG.format(dir=self.dir, port=self.port, password=PASSWORD))
        (self.dir / "oauth2.conf").write_text(OAUTH2.format(provider=provider_url))
        self.process = None

    def start(self, timeout=30):
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)])
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Dovecot did not start: {self.log()}") from None
                time.sleep(0.05)  # polling for the port, not a fixed wait

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        path = self.dir / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def deliver(self, user, message):
        """Put ``message`` (bytes) into ``user``'s inbox, as a local delivery would."""
        maildir = self.dir / "home" / user / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in (maildir.parent, maildir, *(maildir / s for s in ("tmp", "new", "cur"))):
            shutil.chown(path, "dovecot", "dovecot")
        name = f"{time.time_ns()}.{os.getpid()}.massmail-test"
        (maildir / "new" / name).write_bytes(message)
        shutil.chown(maildir / "new" / name, "dovecot", "dovecot")


def read_subjects(dovecot, account):
    """The Subject lines in ``account``'s inbox, read-only, logged in by imap_login."""
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30) as imap:
        imap_login(imap, account)
        imap.select_folder("INBOX", readonly=True)
        messages = imap.fetch(imap.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        return [data[b"BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip() for data in messages.values()]
