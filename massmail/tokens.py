"""Signed unsubscribe tokens naming one delivery, and the absolute URLs built from them.

Tokens never expire (an old newsletter must still unsubscribe) and are salted, so a
token signed for another purpose with the same SECRET_KEY is refused.
"""

from django.core import signing
from django.urls import reverse

from .conf import conf

SALT = "massmail.unsubscribe"


def make_token(delivery_id):
    return signing.dumps(delivery_id, salt=SALT, compress=False)


def read_token(token):
    """The delivery id of ``token``; ``signing.BadSignature`` when forged or damaged."""
    value = signing.loads(token, salt=SALT)
    if not isinstance(value, int):
        raise signing.BadSignature("Token does not name a delivery.")
    return value


def unsubscribe_url(delivery_id):
    path = reverse("massmail:unsubscribe", kwargs={"token": make_token(delivery_id)})
    return conf.SITE_URL.rstrip("/") + path
