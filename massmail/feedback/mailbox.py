"""An account's INBOX over IMAP, strictly read-only.

The folder is opened with EXAMINE (``select_folder(readonly=True)``), and messages are
fetched with ``BODY.PEEK[]``, which sets no \\Seen flag; nothing here stores flags,
copies, moves, expunges or deletes. Messages come in chunks of FETCH_CHUNK, each cut at
MASSMAIL["FEEDBACK_MAX_BYTES"] (a partial fetch), so memory stays flat whatever the
size of the mailbox or of one message.

IMAPClient (see the README) parses FETCH responses, offers ``oauth2_login`` and a
read-only select. Authentication is in ``login`` alone, so OAuth2 (XOAUTH2) is added
there.
"""

import datetime
import ssl
from contextlib import contextmanager

from django.utils.translation import gettext as _
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..conf import conf
from ..exceptions import MassmailError
from ..oauth.login import imap_login

FETCH_CHUNK = 100
TIMEOUT = 60


class MailboxError(MassmailError):
    """The mailbox cannot be read now (unreachable, TLS, login refused, dropped)."""

    def __init__(self, message, *, authentication=False):
        super().__init__(message)
        self.authentication = authentication


def _open(account, timeout):
    host = account.imap_host or account.smtp_host
    context = ssl.create_default_context()
    client = IMAPClient(host, port=account.imap_port, ssl=account.imap_use_ssl,
                        ssl_context=context, timeout=timeout)
    if not account.imap_use_ssl and b"STARTTLS" in client.capabilities():
        client.starttls(context)
    return client


@contextmanager
def connect(account, timeout=TIMEOUT):
    """A logged-in IMAPClient of ``account``; every failure is a MailboxError."""
    try:
        client = _open(account, timeout)
    except (OSError, IMAPClientError, ssl.SSLError) as error:
        raise MailboxError(_("Cannot connect to the IMAP server: %(error)s") % {"error": error}
                           ) from error
    try:
        try:
            imap_login(client, account)  # password or XOAUTH2 (massmail/oauth/login.py)
        except LoginError as error:
            raise MailboxError(_("The IMAP server refused the login: %(error)s") % {
                "error": _text(error)}, authentication=True) from error
        except MassmailError as error:  # no OAuth2 access token (the owner was told)
            raise MailboxError(str(error)) from error
        yield client
    except (OSError, IMAPClientError) as error:
        raise MailboxError(_("The IMAP connection failed: %(error)s") % {"error": _text(error)}
                           ) from error
    finally:
        _close(client)


def _close(client):
    try:
        client.logout()
    except (OSError, IMAPClientError):
        try:
            client.shutdown()
        except OSError:
            pass


def _text(error):
    value = error.args[0] if error.args else error
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def examine(client):
    """Open the INBOX read-only; returns its UIDVALIDITY."""
    selected = client.select_folder("INBOX", readonly=True)
    return int(selected[b"UIDVALIDITY"])


def new_uids(client, after_uid, since=None):
    """UIDs above ``after_uid`` (and, when given, received since the date ``since``),
    in ascending order."""
    if after_uid:
        # "N:*" always includes the highest UID, even below N: filter it out.
        uids = [uid for uid in client.search(["UID", f"{after_uid + 1}:*"]) if uid > after_uid]
    else:
        uids = client.search(["SINCE", since] if since else ["ALL"])
    return sorted(uids)


def lookback_date(now):
    return (now - datetime.timedelta(days=conf.FEEDBACK_LOOKBACK_DAYS)).date()


def fetch(client, uids):
    """(uid, bytes) of each message, at most FEEDBACK_MAX_BYTES of each, chunk by chunk."""
    part = f"BODY.PEEK[]<0.{conf.FEEDBACK_MAX_BYTES}>"
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = uids[start:start + FETCH_CHUNK]
        response = client.fetch(chunk, [part])
        for uid in chunk:
            data = response.pop(uid, None) or {}
            yield uid, next((value for key, value in data.items()
                             if key.startswith(b"BODY[]")), None) or b""


def test_mailbox(account):
    """Log in and examine the INBOX; returns a sentence saying what was found."""
    with connect(account, timeout=15) as client:
        try:
            uidvalidity = examine(client)
            count = len(client.search(["ALL"]))
        except (OSError, IMAPClientError, KeyError) as error:
            raise MailboxError(_("The INBOX cannot be opened: %(error)s") % {
                "error": _text(error)}) from error
    return _("Logged in; the INBOX holds %(count)d messages (UIDVALIDITY %(uidvalidity)s).") % {
        "count": count, "uidvalidity": uidvalidity}
