"""Connecting a mailbox: the OAuth2 authorization code flow with PKCE.

"Connect" on the account's admin page calls ``start``, which sends the browser to the
provider; the provider sends it back to the callback view, which calls ``finish``.

The ``state`` parameter is signed (django.core.signing, salted, ten minutes) and names
the account, the user and a random nonce. The PKCE verifier and the page to return to
stay in the user's session under that nonce and are taken out on first use, so a state
works once, only for the user and the browser that started it, and never for an
account that is not that user's (ownership is checked again at the end). The same nonce
goes into the ID token, whose signature and audience are checked against the provider's
published keys: its ``address_claim`` is the mailbox that signed in, which must be the
account's From address.
"""

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError as ProtocolError
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..conf import conf
from ..models import EmailAccount
from . import tokens
from .exceptions import OAuthError, ProviderNotConfigured
from .providers import HTTP_TIMEOUT, get_provider

SALT = "massmail.oauth.state"
STATE_MAX_AGE = 600
SESSION_KEY = "massmail_oauth"
# Flows a session keeps open at once (several tabs); the oldest is dropped first.
OPEN_FLOWS = 5


class Refused(OAuthError):
    """The callback cannot connect the account; ``return_url`` is the account's page
    when the flow is known to be this user's, else None."""

    def __init__(self, message, return_url=None):
        super().__init__(message)
        self.return_url = return_url


def redirect_uri():
    """The callback URL that the provider redirects to, as registered with it."""
    return conf.OAUTH_REDIRECT_URI or conf.SITE_URL.rstrip("/") + reverse("massmail:oauth_callback")


def start(request, account, return_url):
    """The provider's authorization URL for connecting ``account`` (which the caller
    checked is the user's or the user is a superuser); the callback returns to
    ``return_url``. ProviderNotConfigured when no app is registered."""
    provider = get_provider(account.auth_method)
    nonce = generate_token(32)
    verifier = generate_token(64)
    flows = request.session.get(SESSION_KEY, {})
    flows = dict(list(flows.items())[-(OPEN_FLOWS - 1):])
    flows[nonce] = {"verifier": verifier, "return_url": return_url}
    request.session[SESSION_KEY] = flows
    state = signing.dumps({"account": account.pk, "user": request.user.pk, "nonce": nonce},
                          salt=SALT)
    with provider.session(redirect_uri=redirect_uri()) as client:
        url, _state = client.create_authorization_url(
            provider.authorize_url, state=state, code_verifier=verifier, nonce=nonce,
            login_hint=account.from_email, **provider.authorize_params)
    return url


def finish(request):
    """Exchange the callback's code and store the grant; returns (account, return_url).
    Refused, with nothing stored, for anything wrong."""
    claims = _read_state(request)
    flows = request.session.get(SESSION_KEY, {})
    flow = flows.pop(claims["nonce"], None)
    request.session[SESSION_KEY] = flows
    if flow is None:
        raise Refused(_("This sign-in link was already used or belongs to another browser "
                        "session. Click \"Connect\" again."))
    account = EmailAccount.objects.owned_by(request.user).filter(pk=claims["account"]).first()
    if account is None:
        raise Refused(_("This account is not yours: only its owner or a superuser can connect it."))
    return_url = flow["return_url"]
    if "error" in request.GET:
        raise Refused(_("The provider did not connect the mailbox: %(error)s %(text)s") % {
            "error": request.GET["error"], "text": request.GET.get("error_description", "")},
            return_url)
    token, address = _exchange(account, request.GET.get("code", ""), flow["verifier"],
                               claims["nonce"], return_url)
    if address.lower() != account.from_email.lower():
        raise Refused(_("You signed in as %(address)s, but this account sends from %(from)s. "
                        "Sign in with the mailbox %(from)s, or ask an administrator to change "
                        "the account's From address.") % {"address": address,
                                                           "from": account.from_email}, return_url)
    _store(account, token, address)
    return account, return_url


def _read_state(request):
    """The state's content when it is genuine, recent and this user's."""
    try:
        claims = signing.loads(request.GET.get("state", ""), salt=SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise Refused(_("This sign-in took too long. Click \"Connect\" again.")) from None
    except signing.BadSignature:
        raise Refused(_("This sign-in link is not genuine.")) from None
    if claims.get("user") != request.user.pk:
        raise Refused(_("This sign-in was started by another user."))
    return claims


def _exchange(account, code, verifier, nonce, return_url):
    """The token endpoint's answer to the code, and the mailbox its ID token names."""
    try:
        provider = get_provider(account.auth_method)
        with provider.session(redirect_uri=redirect_uri()) as client:
            token = client.fetch_token(provider.token_url, code=code, code_verifier=verifier)
        keys = requests.get(provider.jwks_url, timeout=HTTP_TIMEOUT)
        keys.raise_for_status()
        id_token = jwt.decode(token.get("id_token", ""), KeySet.import_key_set(keys.json()),
                              algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            aud={"essential": True, "value": provider.client_id},
            nonce={"essential": True, "value": nonce}, exp={"essential": True},
        ).validate(id_token.claims)
    except ProtocolError as exc:
        raise Refused(_("The provider refused the sign-in: %(error)s %(text)s") % {
            "error": exc.error, "text": exc.description or ""}, return_url) from exc
    except (requests.RequestException, ValueError, JoseError) as exc:
        raise Refused(_("The provider's answer cannot be used: %s") % exc, return_url) from exc
    except ProviderNotConfigured as exc:
        raise Refused(str(exc), return_url) from exc
    address = id_token.claims.get(provider.address_claim) or ""
    if not token.get("refresh_token") or not address or id_token.claims.get("email_verified") is False:
        raise Refused(_("The provider returned no refresh token or no verified address. "
                        "Click \"Connect\" again and accept every permission."), return_url)
    return token, address


def _store(account, token, address):
    """Save the grant at once, re-enable the account (connecting is the fix that a
    refused sign-in asks for), and cache the access token that came with it."""
    account.oauth_refresh_token = token["refresh_token"]
    account.oauth_address = address
    account.oauth_connected_at = timezone.now()
    account.disabled_at, account.disabled_reason = None, ""
    account.save(update_fields=["oauth_refresh_token", "oauth_address", "oauth_connected_at",
                                "disabled_at", "disabled_reason"])
    tokens.remember(account, token)
