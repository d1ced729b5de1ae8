"""One SMTP connection per batch, with smtplib, and what an SMTP reply means for us.

Not Django's mail backends: we need the raw reply of every transaction, implicit TLS or
STARTTLS per account, and a connection we reopen ourselves after a drop.
"""

import re
import smtplib
import ssl
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..conf import conf
from ..oauth.login import smtp_login

# Replies that say the account hit a provider quota, not that the recipient is bad.
QUOTA_PATTERN = re.compile(
    r"quota|rate limit|too many (messages|emails|recipients)|sending limit|daily limit|"
    r"limit exceeded|exceeded .*limit|4\.7\.28|5\.4\.5",
    re.IGNORECASE,
)
# Permanent replies that say, of the recipient, that the mailbox does not exist. Replies
# about the sender ("Sender address rejected") or policy (5.7.x) never count, or one
# misconfigured account would suppress a whole audience.
NO_SUCH_USER_PATTERN = re.compile(
    r"\b5\.1\.1\b|\b5\.1\.10\b|user unknown|unknown user|no such user|"
    r"mailbox (does not|doesn't) exist|recipient not found|no mailbox",
    re.IGNORECASE,
)
NOT_ABOUT_THE_RECIPIENT = re.compile(r"sender|\b5\.7\.\d+", re.IGNORECASE)
# Refusals that name the sender: the account cannot send (wrong From for its login,
# unverified domain...), whoever the recipient is.
SENDER_PATTERN = re.compile(r"\bsender\b", re.IGNORECASE)


@dataclass
class Outcome:
    """How one send ended. ``kind`` is one of the constants below."""

    kind: str
    code: int | None
    reply: str

    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx, or the connection dropped before the end of the data
    PERMANENT = "permanent"  # 5xx for this recipient
    BOUNCED = "bounced"  # 5xx, the mailbox does not exist: also suppress
    QUOTA = "quota"  # the account hit a provider quota: pause the account
    SENDER = "sender"  # MAIL FROM refused: the account cannot send now, pause it
    UNKNOWN = "unknown"  # the data went out but no reply came: maybe delivered, never resend


class AccountError(Exception):
    """The account cannot send at all right now (server down, TLS or login refused)."""

    def __init__(self, message, *, authentication=False):
        super().__init__(message)
        self.authentication = authentication


def classify(code, reply):
    text = reply if isinstance(reply, str) else reply.decode("utf-8", "replace")
    if code is None:
        return Outcome(Outcome.TEMPORARY, None, text)
    if 200 <= code < 300:
        return Outcome(Outcome.SENT, code, text)
    if QUOTA_PATTERN.search(text):
        return Outcome(Outcome.QUOTA, code, text)
    if SENDER_PATTERN.search(text):
        return Outcome(Outcome.SENDER, code, text)
    if 400 <= code < 500:
        return Outcome(Outcome.TEMPORARY, code, text)
    if (code in (550, 551, 553) and NO_SUCH_USER_PATTERN.search(text)
            and not NOT_ABOUT_THE_RECIPIENT.search(text)):
        return Outcome(Outcome.BOUNCED, code, text)
    return Outcome(Outcome.PERMANENT, code, text)


class Connection:
    """A lazily opened SMTP session of one account, reopened after a drop."""

    def __init__(self, account, timeout=None):
        self.account = account
        self.timeout = timeout or conf.SMTP_TIMEOUT
        self.smtp = None

    def open(self):
        account = self.account
        context = ssl.create_default_context()
        try:
            if account.use_ssl:
                smtp = smtplib.SMTP_SSL(account.smtp_host, account.smtp_port,
                                        timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=self.timeout)
            smtp.ehlo()
            if account.use_tls:
                smtp.starttls(context=context)
                smtp.ehlo()
            smtp_login(smtp, account)  # password or XOAUTH2
        except smtplib.SMTPAuthenticationError as exc:
            raise AccountError(
                _("The server refused the login: %(code)s %(reply)s")
                % {"code": exc.smtp_code, "reply": _text(exc.smtp_error)},
                authentication=True,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise AccountError(_("The server does not support this: %s") % exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise AccountError(
                _("Cannot connect to %(host)s:%(port)s: %(error)s")
                % {"host": account.smtp_host, "port": account.smtp_port, "error": exc}
            ) from exc
        self.smtp = smtp

    def send(self, from_email, to_email, data):
        """Send one message; always returns an Outcome (a dropped connection included).

        MAIL, RCPT and DATA are issued one by one so that the server's exact reply to the
        step that decided is kept. Unlike smtplib.sendmail this does not re-parse both
        addresses (they were validated when the message was built) and dot-stuffs with a
        bytes replace instead of a regular expression: together half the per-email cost.
        """
        self.ensure_open()
        smtp = self.smtp
        data_sent = False
        try:
            code, reply = smtp.docmd("MAIL", f"FROM:<{from_email}>")
            if code != 250:
                self.reset(code)
                outcome = classify(code, reply)
                if outcome.kind == Outcome.QUOTA:
                    return outcome
                return Outcome(Outcome.SENDER, code, outcome.reply)
            code, reply = smtp.docmd("RCPT", f"TO:<{to_email}>")
            if code in (250, 251):
                code, reply = smtp.docmd("DATA")
                if code == 354:
                    smtp.send(dot_stuff(data) + b".\r\n")
                    data_sent = True
                    code, reply = smtp.getreply()
            self.reset(code)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            if data_sent:
                return Outcome(Outcome.UNKNOWN, None, _(
                    "The connection was lost after the message was sent, before the server "
                    "confirmed it: it may have been delivered. %s") % exc)
            return Outcome(Outcome.TEMPORARY, None, _("Connection lost: %s") % exc)
        return classify(code, reply)

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
        """Open the session unless it is open; AccountError when that fails."""
        if self.smtp is None:
            self.open()

    def close(self):
        if self.smtp is None:
            return
        smtp, self.smtp = self.smtp, None
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


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
    connection.open()
    reply = connection.smtp.noop()
    connection.close()
    return _("Connected and authenticated: %(code)s %(reply)s") % {
        "code": reply[0], "reply": _text(reply[1])}
