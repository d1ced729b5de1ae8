"""Signed unsubscribe tokens naming one delivery, and the absolute URLs built from them.

Tokens never expire (an old newsletter must still unsubscribe) and are salted, so a
token signed for another purpose with the same SECRET_KEY is refused.
"""

import functools

from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

from .conf import conf

SALT = "massmail.unsubscribe"


def make_token(delivery_id, salt=SALT):
    """``<id>:<signature>``: a plain Signer, made once per email, so no timestamp or JSON.
    Another ``salt`` signs for another purpose (click tracking)."""
    return signing.Signer(salt=salt).sign(str(delivery_id))


def read_token(token, salt=SALT):
    """The delivery id of ``token``; ``signing.BadSignature`` when forged or damaged."""
    value = signing.Signer(salt=salt).unsign(token)
    if not (value.isascii() and value.isdigit()):
        raise signing.BadSignature("Token does not name a delivery.")
    return int(value)


@functools.lru_cache(maxsize=16)
def _path_template(urlconf, script_prefix):
    """The unsubscribe path with a placeholder: reverse() once, not once per email."""
    return reverse("massmail:unsubscribe", kwargs={"token": _PLACEHOLDER}, urlconf=urlconf)


_PLACEHOLDER = "massmail-token-placeholder"


def unsubscribe_url(delivery_id):
    head, _placeholder, tail = _path_template(get_urlconf(), get_script_prefix()).rpartition(
        _PLACEHOLDER)
    return f"{conf.SITE_URL.rstrip('/')}{head}{make_token(delivery_id)}{tail}"
