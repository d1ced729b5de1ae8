"""The SMTP transport: one session of one account with smtplib, bounded in time.

Not Django's mail backends: we need the raw reply of every step, implicit TLS or
STARTTLS per account, a session we reopen ourselves after a drop, and a deadline on a
whole transaction. A socket timeout alone bounds each read, not a server that trickles
"250-" lines for minutes; so every reply is read against the transaction's deadline,
and a batch's lease (see states.renew) always outlives one transaction.
"""

import smtplib
import ssl
import time

from django.utils.translation import gettext as _

from ..conf import conf
from ..oauth.login import smtp_login
from .replies import Blame, Stage, Verdict, classify
from .transport import AccountError, Transport


class _DeadlineReader:
    """The session's reply stream, refusing to wait past the transaction's deadline."""

    def __init__(self, raw, sock, session):
        self.raw, self.sock, self.session = raw, sock, session

    def readline(self, limit=-1):
        remaining = self.session.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(_("the server took longer than %d seconds to answer")
                               % conf.SMTP_TRANSACTION_SECONDS)
        self.sock.settimeout(min(remaining, self.session.timeout))
        return self.raw.readline(limit)

    def close(self):
        self.raw.close()


class _BoundedSession:
    """Mixed into smtplib's classes: replies are read against ``deadline``."""

    def __init__(self, *args, deadline, **kwargs):
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def getreply(self):
        if self.file is None and self.sock is not None:
            self.file = _DeadlineReader(self.sock.makefile("rb"), self.sock, self)
        return super().getreply()


class _SMTP(_BoundedSession, smtplib.SMTP):
    pass


class _SMTP_SSL(_BoundedSession, smtplib.SMTP_SSL):
    pass


class Connection(Transport):
    """A lazily opened SMTP session of one account, reopened after a drop."""

    def __init__(self, account, timeout=None):
        self.account = account
        self.timeout = timeout or conf.SMTP_TIMEOUT
        self.smtp = None

    def open(self):
        account = self.account
        context = ssl.create_default_context()
        deadline = time.monotonic() + conf.SMTP_TRANSACTION_SECONDS
        smtp = None
        try:
            if account.use_ssl:
                smtp = _SMTP_SSL(account.smtp_host, account.smtp_port, timeout=self.timeout,
                                 context=context, deadline=deadline)
            else:
                smtp = _SMTP(account.smtp_host, account.smtp_port, timeout=self.timeout,
                             deadline=deadline)
            smtp.ehlo()
            if account.use_tls:
                smtp.starttls(context=context)
                smtp.ehlo()
            smtp_login(smtp, account)  # password or XOAUTH2
        except smtplib.SMTPAuthenticationError as exc:
            _discard(smtp)
            raise AccountError(
                _("The server refused the login: %(code)s %(reply)s")
                % {"code": exc.smtp_code, "reply": _text(exc.smtp_error)},
                verdict=classify(Stage.AUTH, exc.smtp_code, exc.smtp_error), authentication=True,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _discard(smtp)
            raise AccountError(_("The server does not support this: %s") % exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            _discard(smtp)
            raise AccountError(
                _("Cannot connect to %(host)s:%(port)s: %(error)s")
                % {"host": account.smtp_host, "port": account.smtp_port, "error": exc},
                connection=True,
            ) from exc
        self.smtp = smtp

    def send(self, from_email, to_email, data):
        """Send one message; always returns a Verdict (a dropped connection included).

        The reply to each step is read and kept, so the step that decided is known.
        Where the server offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one
        write and their three replies are read after it: two round trips per email
        instead of four. Unlike smtplib.sendmail this does not re-parse both addresses
        (they were validated when the message was built) and dot-stuffs with a bytes
        replace instead of a regular expression.
        """
        self.ensure_open()
        smtp = self.smtp
        recipient, options = self._envelope_recipient(to_email)
        if recipient is None:
            return Verdict(Blame.NEEDS_SMTPUTF8, Stage.RCPT, None, _(
                "The address needs SMTPUTF8, which this server does not offer."))
        smtp.deadline = time.monotonic() + conf.SMTP_TRANSACTION_SECONDS
        commands = [(Stage.MAIL, f"MAIL FROM:<{from_email}>{options}"),
                    (Stage.RCPT, f"RCPT TO:<{recipient}>"), (Stage.DATA, "DATA")]
        progress = {"stage": Stage.MAIL}
        try:
            stage, code, reply = self._envelope(smtp, commands, progress)
            if stage == Stage.DATA and code == 354:
                progress["stage"] = stage = Stage.END
                smtp.send(dot_stuff(data) + b".\r\n")
                code, reply = smtp.getreply()
            self.reset(code)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            if progress["stage"] == Stage.END:
                return classify(Stage.END, None, _(
                    "The connection was lost after the message was sent, before the server "
                    "confirmed it: it may have been delivered. %s") % exc)
            return classify(progress["stage"], None, _("Connection lost: %s") % exc)
        finally:
            smtp.command_encoding = "ascii"
        return classify(stage, code, reply)

    def _envelope(self, smtp, commands, progress):
        """Issue MAIL, RCPT and DATA; return (stage, code, reply) of the step that
        refused, or of DATA. ``progress["stage"]`` follows the reply being read."""
        accepted = {Stage.MAIL: (250,), Stage.RCPT: (250, 251), Stage.DATA: (354,)}
        if smtp.does_esmtp and smtp.has_extn("pipelining"):
            smtp.send("".join(f"{command}\r\n" for _stage, command in commands))
            replies = []
            for stage, _command in commands:
                progress["stage"] = stage
                replies.append((stage, *smtp.getreply()))
            refused = next((r for r in replies if r[1] not in accepted[r[0]]), None)
            if refused and replies[-1][1] == 354:  # a server that took DATA all the same
                smtp.send(b".\r\n")
                smtp.getreply()
            return refused or replies[-1]
        for stage, command in commands:
            progress["stage"] = stage
            code, reply = smtp.docmd(command)
            if code not in accepted[stage]:
                return stage, code, reply
        return stage, code, reply

    def _envelope_recipient(self, address):
        """(address for RCPT TO, MAIL FROM options), or (None, "") when the address
        cannot be carried. The domain goes as its IDNA A-label; a non-ASCII local part
        needs the server's SMTPUTF8."""
        local, _at, domain = address.rpartition("@")
        if not domain.isascii():
            domain = domain.encode("idna").decode("ascii")
        if local.isascii():
            return f"{local}@{domain}", ""
        if not self.smtp.has_extn("smtputf8"):
            return None, ""
        self.smtp.command_encoding = "utf-8"
        return f"{local}@{domain}", " SMTPUTF8"

    def reset(self, code):
        """After a reply: close on 421, RSET after any other refusal (ignoring a server
        that already hung up, so the reply itself is what counts)."""
        if code == 421:
            self.close()
        elif code != 250:
            try:
                self.smtp.rset()
            except (smtplib.SMTPServerDisconnected, OSError):
                self.close()

    def ensure_open(self):
        if self.smtp is None:
            self.open()

    def close(self):
        if self.smtp is not None:
            smtp, self.smtp = self.smtp, None
            smtp.deadline = time.monotonic() + self.timeout
            _quit(smtp)


def _quit(smtp):
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _discard(smtp):
    """Close a session that failed while opening, so its socket never leaks."""
    if smtp is not None:
        smtp.close()


def dot_stuff(data):
    """``data`` (CRLF lines) ready for DATA: lines starting with "." get another one
    (RFC 5321 4.5.2), and it ends with CRLF so that ".\\r\\n" ends the message."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def test_connection(account):
    """Connect and authenticate; returns a message saying exactly what happened."""
    connection = Connection(account, timeout=15)
    try:
        connection.open()
        reply = connection.smtp.noop()
    finally:
        connection.close()
    return _("Connected and authenticated: %(code)s %(reply)s") % {
        "code": reply[0], "reply": _text(reply[1])}
