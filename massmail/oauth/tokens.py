"""Access tokens of OAuth2 accounts, from their stored refresh token.

An access token lives about an hour; it is kept in Django's cache per account, encrypted
with the same keys as passwords (a shared cache such as Redis never holds it in clear),
and refreshed REFRESH_MARGIN seconds before it expires, so a batch never starts with a
token about to lapse. The cache key includes the time of the connection, so connecting
again never serves a token of the previous grant.

One refresh at a time per account: the account row is locked while the token endpoint
answers, and the cache read again once the lock is held, so parallel workers do not each
spend (and, with providers that rotate, invalidate) the refresh token. A refresh token
that comes back rotated (Microsoft sends a new one on every use) replaces the stored one
in the same short transaction, before the access token is used.

``invalid_grant`` means the grant is gone (password changed, consent revoked, token
expired): the account is disabled with "reconnect this mailbox" and the owner is told,
once however many workers hit it.
"""

import json
import logging
import time

import requests
from authlib.integrations.base_client.errors import OAuthError as ProtocolError
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import crypto
from ..models import EmailAccount
from ..sending import notify
from .exceptions import ReconnectNeeded, TokenUnavailable
from .providers import get_provider

log = logging.getLogger(__name__)

# Seconds before its expiry at which an access token is no longer used.
REFRESH_MARGIN = 300
# Providers that leave out expires_in: assume the usual hour.
DEFAULT_LIFETIME = 3600


def access_token(account):
    """A valid access token of the OAuth2 ``account``.

    ReconnectNeeded (the account is now disabled and its owner told) when the provider
    refuses the grant; TokenUnavailable when the provider cannot be reached.
    """
    token = _cached(account)
    if token:
        return token
    try:
        with transaction.atomic():
            locked = EmailAccount.objects.select_for_update().get(pk=account.pk)
            token = _cached(locked) or _refresh(locked)
    except ReconnectNeeded as exc:
        _disable(account, str(exc))  # after the rollback, so that it stays
        raise
    return token


def forget(account):
    """Drop the cached access token, for example after a server refused it."""
    key = _key(account)
    if key:
        cache.delete(key)


def remember(account, token):
    """Cache the access token of a token endpoint answer (an authlib OAuth2Token)."""
    expires_at = token.get("expires_at") or time.time() + DEFAULT_LIFETIME
    lifetime = int(expires_at - time.time() - REFRESH_MARGIN)
    if lifetime > 0:
        value = crypto.encrypt(json.dumps({"token": token["access_token"], "expires_at": expires_at}))
        cache.set(_key(account), value, lifetime)


def _key(account):
    if account.oauth_connected_at is None:
        return None
    return f"massmail.oauth.access.{account.pk}.{account.oauth_connected_at.timestamp()}"


def _cached(account):
    key = _key(account)
    value = cache.get(key) if key else None
    if value is None:
        return None
    try:
        data = json.loads(crypto.decrypt(value))
    except crypto.DecryptionError:  # encrypted under a key rotated away since
        return None
    # Checked here too: a cache whose clock is its own (Redis) may keep it a little longer.
    if data["expires_at"] - REFRESH_MARGIN <= time.time():
        return None
    return data["token"]


def _refresh(account):
    if not account.oauth_refresh_token:
        raise ReconnectNeeded(_("This mailbox is not connected: reconnect this mailbox with "
                                "\"Connect\" on the account's page."))
    provider = get_provider(account.auth_method)
    try:
        with provider.session() as client:
            token = client.refresh_token(provider.token_url,
                                         refresh_token=account.oauth_refresh_token)
    except ProtocolError as exc:
        if exc.error == "invalid_grant":
            raise ReconnectNeeded(
                _("The provider no longer accepts this mailbox's sign-in: reconnect this mailbox "
                  "with \"Connect\" on the account's page. The provider said: %(error)s")
                % {"error": exc.description or exc.error}) from exc
        raise TokenUnavailable(_("The token endpoint refused the refresh: %(error)s %(text)s")
                               % {"error": exc.error, "text": exc.description or ""}) from exc
    except (requests.RequestException, ValueError) as exc:
        raise TokenUnavailable(_("The token endpoint cannot be reached: %s") % exc) from exc
    rotated = token.get("refresh_token")
    if rotated and rotated != account.oauth_refresh_token:
        EmailAccount.objects.filter(pk=account.pk).update(oauth_refresh_token=rotated)
    remember(account, token)
    return token["access_token"]


def _disable(account, reason):
    """Disable the account unless it already is; only the call that disabled it tells
    the owner."""
    now = timezone.now()
    changed = EmailAccount.objects.filter(pk=account.pk, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason, last_error=reason, last_error_at=now)
    if changed:
        log.warning("Account %s disabled: %s", account.pk, reason)
        notify.account_disabled(account, reason)
