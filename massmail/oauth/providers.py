"""The OAuth2 app registrations: ``MASSMAIL["OAUTH_PROVIDERS"]`` over the real providers'
endpoints and scopes.

A host gives at least ``client_id`` and ``client_secret`` per provider it uses (and
``tenant`` for Microsoft, the Entra ID directory; "organizations" accepts any work or
school account). Every other key can be overridden too, which is how the tests point the
endpoints at a local fake provider.

The ``openid`` scope (with ``profile`` or ``email``) adds an ID token to the code
exchange: it names the mailbox that signed in, which must be the account's From address.
``offline_access`` (Microsoft) and ``access_type=offline`` (Google) return the refresh
token that lets the engine sign in without the user.
"""

from dataclasses import dataclass, field

from authlib.integrations.requests_client import OAuth2Session

from ..conf import conf
from .exceptions import ProviderNotConfigured

# Seconds a token or key request may take.
HTTP_TIMEOUT = 30

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com/{tenant}"

DEFAULTS = {
    "microsoft": {
        "client_id": "",
        "client_secret": "",
        "tenant": "organizations",
        "authorize_url": MICROSOFT_AUTHORITY + "/oauth2/v2.0/authorize",
        "token_url": MICROSOFT_AUTHORITY + "/oauth2/v2.0/token",
        "jwks_url": MICROSOFT_AUTHORITY + "/discovery/v2.0/keys",
        "scopes": ["openid", "profile", "offline_access",
                   "https://outlook.office.com/SMTP.Send",
                   "https://outlook.office.com/IMAP.AccessAsUser.All"],
        "authorize_params": {},
        # The ID token claim that names the mailbox: the user principal name, which
        # Exchange Online accepts as the XOAUTH2 user (its "email" claim is not verified).
        "address_claim": "preferred_username",
    },
    "google": {
        "client_id": "",
        "client_secret": "",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_url": "https://oauth2.googleapis.com/token",
        "jwks_url": "https://www.googleapis.com/oauth2/v3/certs",
        "scopes": ["openid", "email", "https://mail.google.com/"],
        "address_claim": "email",
        # A refresh token, every time: Google sends one only with offline access and
        # only on consent.
        "authorize_params": {"access_type": "offline", "prompt": "consent"},
    },
}


@dataclass(frozen=True)
class Provider:
    name: str
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    jwks_url: str
    address_claim: str
    scopes: list = field(default_factory=list)
    authorize_params: dict = field(default_factory=dict)

    @property
    def scope(self):
        return " ".join(self.scopes)

    def session(self, **options):
        """An authlib client of this app: PKCE S256, the secret in the request body
        (which both providers accept), and a timeout on every request."""
        return OAuth2Session(
            self.client_id, self.client_secret, scope=self.scope,
            token_endpoint_auth_method="client_secret_post", code_challenge_method="S256",
            default_timeout=HTTP_TIMEOUT, **options,
        )


def settings_of(name):
    """The provider's settings: the host's keys over the defaults."""
    return {**DEFAULTS[name], **(conf.OAUTH_PROVIDERS or {}).get(name, {})}


def is_configured(name):
    values = settings_of(name)
    return bool(values["client_id"] and values["client_secret"])


def get_provider(name):
    """The Provider ``name`` (an EmailAccount.auth_method); ProviderNotConfigured when the
    host registered no app for it."""
    if name not in DEFAULTS or not is_configured(name):
        raise ProviderNotConfigured(
            f'MASSMAIL["OAUTH_PROVIDERS"][{name!r}] needs a client_id and a client_secret.')
    values = settings_of(name)
    tenant = values.pop("tenant", "")
    urls = {key: values.pop(key).format(tenant=tenant)
            for key in ("authorize_url", "token_url", "jwks_url")}
    return Provider(name=name, client_id=values["client_id"],
                    client_secret=values["client_secret"], address_claim=values["address_claim"],
                    scopes=list(values["scopes"]), authorize_params=dict(values["authorize_params"]),
                    **urls)
