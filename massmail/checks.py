"""System checks: misconfiguration is reported by `manage.py check`, not at request time.

IDs: massmail.E001-E007 recipient sources, E010 encryption keys, E011 and W010 SITE_URL,
W011 default unsubscribe page (a database check: `check --database default`), E020 a
recipient admin on an admin site without massmail's admins (admin/sites.py), E030 an
account signs in with an OAuth2 provider that has no app registration (a database
check). The ids start with the label massmail is installed with.
"""

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import conf
from .naming import app_label
from .recipients import check_sources


@register()
def recipient_sources_check(app_configs, **kwargs):
    return [Error(msg, hint=hint, id=f"{app_label()}.{code}") for msg, hint, code in check_sources()]


@register(Tags.security, deploy=False)
def encryption_keys_check(app_configs, **kwargs):
    from . import crypto

    if not conf.ENCRYPTION_KEYS:
        if settings.DEBUG:
            return []
        return [Error('MASSMAIL["ENCRYPTION_KEYS"] is empty.',
                      hint="Generate a key with `python -c 'from cryptography.fernet import "
                           "Fernet; print(Fernet.generate_key().decode())'` and list it.",
                      id=f"{app_label()}.E010")]
    try:
        crypto._fernet()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id=f"{app_label()}.E010")]
    return []


@register()
def site_url_ascii_check(app_configs, **kwargs):
    """Headers carry the unsubscribe URL, so it must be ASCII (a punycode host)."""
    if conf.SITE_URL.isascii():
        return []
    return [Error(f'MASSMAIL["SITE_URL"] is {conf.SITE_URL!r}: not ASCII, so no email can '
                  "carry its unsubscribe link in a header.",
                  hint="Write the host in its punycode form (xn--...).", id=f"{app_label()}.E011")]


@register(Tags.security)
def site_url_check(app_configs, **kwargs):
    if settings.DEBUG or urlparse(conf.SITE_URL).scheme == "https":
        return []
    return [Warning(f'MASSMAIL["SITE_URL"] is {conf.SITE_URL!r}, not https.',
                    hint="Unsubscribe links and List-Unsubscribe headers are built from it; "
                         "mail providers expect https.", id=f"{app_label()}.W010")]


@register(Tags.database)
def unsubscribe_page_check(app_configs, databases=None, **kwargs):
    from django.db import DatabaseError

    from .models import MassmailSettings

    if not databases:
        return []
    try:
        url = MassmailSettings.objects.values_list("unsubscribe_url", flat=True).first()
    except DatabaseError:
        return []
    if url == MassmailSettings.DEFAULT_UNSUBSCRIBE_URL:
        return [Warning("The page shown after unsubscribing is still the former default "
                        f"{MassmailSettings.DEFAULT_UNSUBSCRIBE_URL}, which nobody serves.",
                        hint="Set your own page in the admin under Massmail Settings, or "
                             "empty it to use massmail's own page.", id=f"{app_label()}.W011")]
    return []


@register(Tags.database)
def oauth_providers_check(app_configs, databases=None, **kwargs):
    from django.db import DatabaseError

    from .models import AuthMethod, EmailAccount
    from .oauth.providers import is_configured

    if not databases:
        return []
    try:
        methods = set(EmailAccount.objects.exclude(auth_method=AuthMethod.PASSWORD).order_by()
                      .values_list("auth_method", flat=True).distinct())
    except DatabaseError:
        return []
    return [Error(f"Email accounts sign in with {method!r}, but MASSMAIL[\"OAUTH_PROVIDERS\"] "
                  f"has no app registration for it: they cannot send or read.",
                  hint=f'Set MASSMAIL["OAUTH_PROVIDERS"][{method!r}] = {{"client_id": ..., '
                       '"client_secret": ...} (see the README, "OAuth2 mailboxes").',
                  id=f"{app_label()}.E030")
            for method in sorted(methods) if not is_configured(method)]
