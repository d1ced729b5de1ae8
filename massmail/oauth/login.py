"""The login step of SMTP and IMAP sessions: a password, or XOAUTH2 with a fresh access
token. The SMTP connection and the mailbox reader each call one function here, so the
sign-in method of an account is decided in one place.

A server that refuses an access token makes the login fail like a refused password (an
account problem, never a recipient's); the cached token is dropped, so the next attempt
gets a new one.
"""

import smtplib

from django.utils.translation import gettext as _
from imapclient.exceptions import LoginError

from ..models import AuthMethod
from ..sending.transport import AccountError
from . import tokens
from .exceptions import OAuthError, ReconnectNeeded
from .xoauth2 import auth_string


def smtp_login(smtp, account):
    """Authenticate the smtplib session ``smtp`` (after EHLO) as ``account``.

    The server's refusal raises smtplib.SMTPAuthenticationError, as smtp.login does; no
    usable token raises AccountError (the caller's "cannot send now").
    """
    if account.auth_method == AuthMethod.PASSWORD:
        if account.smtp_user:
            smtp.login(account.smtp_user, account.password)
        return
    try:
        token = tokens.access_token(account)
    except ReconnectNeeded as exc:
        # Already disabled and its owner told: not authentication=True, which would do
        # both again.
        raise AccountError(str(exc)) from exc
    except OAuthError as exc:
        raise AccountError(_("No access token: %s") % exc) from exc
    try:
        # On a refusal the server sends an error as a challenge and expects an empty line.
        smtp.auth("XOAUTH2", lambda challenge=None: (
            auth_string(account.oauth_address, token) if challenge is None else ""))
    except smtplib.SMTPAuthenticationError:
        tokens.forget(account)
        raise


def imap_login(client, account):
    """Log the IMAPClient ``client`` in as ``account``: IMAP user and password (the SMTP
    ones, then the From address, when empty), or XOAUTH2 as the connected mailbox.

    A refusal raises imapclient's LoginError; for an OAuth2 account without a usable
    token, ReconnectNeeded or TokenUnavailable (both MassmailError).
    """
    if account.auth_method == AuthMethod.PASSWORD:
        client.login(account.imap_user or account.smtp_user or account.from_email,
                     account.imap_password or account.password)
        return
    token = tokens.access_token(account)
    try:
        client.oauth2_login(account.oauth_address, token)
    except LoginError:
        tokens.forget(account)
        raise
