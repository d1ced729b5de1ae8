"""A real IMAP server for tests: Debian's Dovecot on a free 127.0.0.1 port.

Each instance has its own configuration file, run and state directories, a Maildir
mail location and a passdb file in a temporary directory, so it never touches the
machine's Dovecot. It runs in the foreground (``dovecot -F``) as a child of the test
process and stops with it. Under root, Dovecot drops to its ``dovecot`` user for the
mail processes (it refuses mail access as uid 0); otherwise every process runs as the
current user (Dovecot's "rootless" setup).

Messages are delivered by writing files into the Maildir, as a local delivery agent
would; ``state()`` reads UIDs, flags and sizes over IMAP read-only, so a test can prove
that a run left the mailbox exactly as it found it.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from imapclient import IMAPClient

from .smtp import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
"""


def available():
    return os.path.exists(DOVECOT)


class Dovecot:
    def __init__(self, user="sales@sender.example", password="imap-secret"):
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="massmail-dovecot-"))
        self.process = None
        account = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self.system_user = account.pw_name

    @property
    def maildir(self):
        return self.root / "mail" / self.user

    def start(self):
        self.root.chmod(0o755)
        for sub in ("run", "state", "home", "mail", f"mail/{self.user}/cur",
                    f"mail/{self.user}/new", f"mail/{self.user}/tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        group = self.system_user if os.geteuid() == 0 else _group_name(self.gid)
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, user=self.system_user, group=group,
                                        uid=self.uid, gid=self.gid, port=self.port))
        self._chown()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_until_listening()
        return self

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_until_listening(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()} "
                                   f"{self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self):
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def _chown(self, *paths):
        if os.geteuid() != 0:
            return
        for path in paths or [self.root / "mail", self.root / "home"]:
            os.chown(path, self.uid, self.gid)
            for parent, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(parent, name), self.uid, self.gid)

    def deliver(self, data, days_old=0):
        """Write one message into the INBOX, as a local delivery agent does; its
        arrival (IMAP INTERNALDATE, the file's time) ``days_old`` days ago."""
        if isinstance(data, str):
            data = data.encode()
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.massmail-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(data)
        if days_old:
            arrived = time.time() - days_old * 86400
            os.utime(tmp, (arrived, arrived))
        if os.geteuid() == 0:
            os.chown(tmp, self.uid, self.gid)
        tmp.rename(self.maildir / "new" / name)

    def client(self):
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(self.user, self.password)
        return client

    def state(self):
        """{uid: (flags, size)} of the INBOX and its UIDVALIDITY, read with EXAMINE."""
        with self.client() as client:
            selected = client.select_folder("INBOX", readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS", "RFC822.SIZE"]) if uids else {}
            return selected[b"UIDVALIDITY"], {
                uid: (tuple(sorted(data[b"FLAGS"])), data[b"RFC822.SIZE"])
                for uid, data in fetched.items()}

    def account_fields(self):
        """EmailAccount fields that read this mailbox."""
        return {"read_feedback": True, "imap_host": self.host, "imap_port": self.port,
                "imap_use_ssl": False, "imap_user": self.user, "imap_password": self.password}


def _group_name(gid):
    import grp

    return grp.getgrgid(gid).gr_name
