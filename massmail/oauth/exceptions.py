"""What can go wrong with an OAuth2 mailbox, as massmail errors a caller can tell apart:
the account must be connected again (nothing will work until its owner does), or the
provider could not be reached right now (try later)."""

from ..exceptions import MassmailError


class OAuthError(MassmailError):
    """Base of the OAuth2 errors."""


class ProviderNotConfigured(OAuthError):
    """MASSMAIL["OAUTH_PROVIDERS"] has no app registration for the account's provider."""


class ReconnectNeeded(OAuthError):
    """The provider refused the stored grant (or there is none): the owner must click
    "Connect" again. The account has been disabled and its owner told."""


class TokenUnavailable(OAuthError):
    """The token endpoint could not be reached or failed; nothing is wrong with the grant."""
