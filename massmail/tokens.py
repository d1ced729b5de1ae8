"""Signed unsubscribe tokens that carry the address itself, and the URLs built from them.

A token must keep working for as long as the email exists in someone's mailbox: after
its mailing, delivery, CRM record or manager is deleted. So it does not name a row that
can be deleted: it carries the address (and, for the record, the mailing and delivery
ids it was made for), encrypted with ``MASSMAIL["ENCRYPTION_KEYS"]`` so the address
never appears in clear in a URL (URLs end up in logs), then signed with a salted
``django.core.signing.Signer``. Tokens never expire. Keep retired encryption keys at the
end of ``ENCRYPTION_KEYS`` (and retired secret keys in ``SECRET_KEY_FALLBACKS``), or the
links in emails sent under them stop working.

Tokens of the first format (``<delivery id>:<signature>``, in emails sent before this
one) are still accepted: they resolve through their delivery row, so they work as long
as that row exists.
"""

import functools
from dataclasses import dataclass

from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

from . import crypto
from .conf import conf

SALT = "massmail.unsubscribe.address"
# The first format named only a delivery id.
DELIVERY_SALT = "massmail.unsubscribe"


@dataclass(frozen=True)
class Target:
    """What a token names: the address, and the ids it was made for (``None`` when the
    token did not carry them)."""

    email: str | None
    mailing_id: int | None = None
    delivery_id: int | None = None


def make_token(delivery_id, email, mailing_id=None):
    """The token of ``email``, made for one delivery of one mailing."""
    payload = f"{int(delivery_id)}.{int(mailing_id or 0)}.{email}"
    ciphertext = crypto.encrypt(payload).rstrip("=")  # padding is restored on reading
    return signing.Signer(salt=SALT).sign(ciphertext)


def read_token(token):
    """The ``Target`` of ``token``; ``signing.BadSignature`` when forged or damaged.

    A first-format token yields a Target with only ``delivery_id``: the caller looks
    the address up in that delivery.
    """
    try:
        ciphertext = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return Target(email=None, delivery_id=_read_delivery_token(token))
    try:
        payload = crypto.decrypt(ciphertext + "=" * (-len(ciphertext) % 4))
    except crypto.DecryptionError:
        raise signing.BadSignature("Token cannot be decrypted.") from None
    delivery_id, mailing_id, email = payload.split(".", 2)
    return Target(email=email, mailing_id=int(mailing_id) or None, delivery_id=int(delivery_id) or None)


def _read_delivery_token(token):
    value = signing.Signer(salt=DELIVERY_SALT).unsign(token)
    if not (value.isascii() and value.isdigit()):
        raise signing.BadSignature("Token does not name a delivery.")
    return int(value)


@functools.lru_cache(maxsize=16)
def _path_template(urlconf, script_prefix):
    """The unsubscribe path with a placeholder: reverse() once, not once per email."""
    return reverse("massmail:unsubscribe", kwargs={"token": _PLACEHOLDER}, urlconf=urlconf)


_PLACEHOLDER = "massmail-token-placeholder"


def unsubscribe_url(delivery_id, email, mailing_id):
    """The absolute unsubscribe URL of one delivery. The token carries the address, so
    the link outlives every row (links of the first format, naming only the delivery,
    are still accepted while their delivery exists)."""
    token = make_token(delivery_id, email, mailing_id)
    head, _placeholder, tail = _path_template(get_urlconf(), get_script_prefix()).rpartition(
        _PLACEHOLDER)
    return f"{conf.SITE_URL.rstrip('/')}{head}{token}{tail}"
