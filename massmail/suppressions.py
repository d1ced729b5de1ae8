"""Adding an address to the suppression list: one function for every channel.

Unsubscribes (page, one-click, replies), bounces (SMTP replies, mailbox reports),
complaints and manual entries all go through ``suppress``, so an address is compared
in one way everywhere and a stop is never recorded twice or overwritten: the first
reason an address was suppressed for is the one kept.
"""

from django.db import transaction

from .addresses import normalise_email
from .models import Suppression


def suppress(email, reason, *, mailing=None, channel="", note=""):
    """Suppress ``email`` for ``reason`` (a ``Suppression.Reason``); idempotent.

    Returns ``(suppression, created)``. An existing row is kept as it is.
    """
    with transaction.atomic():
        # get_or_create retries the read when a concurrent insert wins the unique index.
        return Suppression.objects.get_or_create(
            email=normalise_email(email),
            defaults={"reason": reason, "channel": channel, "mailing": mailing,
                      "note": note[:500]},
        )
