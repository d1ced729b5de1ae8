"""Adding an address to the suppression list: one function for every channel.

Unsubscribes (page, one-click, replies), bounces (SMTP replies, mailbox reports),
complaints and manual entries all go through ``suppress``, so an address is compared
in one way everywhere (by its key, see addresses.py: "Ann@x.org" and "ann@x.org" are
one address; the address is stored as written) and a stop is never recorded twice or
overwritten: the first reason an address was suppressed for is the one kept.
"""

from django.db import IntegrityError, transaction

from .addresses import address_key, key_expression, normalise_email
from .models import Suppression


def by_key(keys):
    """Suppression rows whose address key is among ``keys`` (see addresses.address_key);
    the unique index on the key serves the lookup."""
    return Suppression.objects.annotate(_key=key_expression("email")).filter(_key__in=keys)


def suppress(email, reason, *, mailing=None, channel="", note=""):
    """Suppress ``email`` for ``reason`` (a ``Suppression.Reason``); idempotent.

    Returns ``(suppression, created)``. An existing row, in any letter case, is kept as
    it is.
    """
    key = address_key(email)
    existing = by_key([key]).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Suppression.objects.create(
                email=normalise_email(email), reason=reason, channel=channel,
                mailing=mailing, note=note[:500],
            ), True
    except IntegrityError:  # a concurrent insert won the unique index: keep that row
        return by_key([key]).get(), False
