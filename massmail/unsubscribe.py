"""What unsubscribing an address does, in one place (the view calls it; a host may too).

Unsubscribing is about an address, not about one record or one mailing: the address is
suppressed for every later mailing, the host records that were mailed at it lose their
"subscribed" flag, and whatever still waits to be sent to it in running mailings is
skipped. All of it happens in one transaction, so a half-done unsubscribe never exists.
"""

import functools
from collections import defaultdict

from django.db import transaction

from .addresses import address_key, key_expression, normalise_email
from .models import Delivery, Recipient, Suppression
from .recipients import get_sources
from .sending import states
from .signals import unsubscribed
from .suppressions import suppress


def unsubscribe(email, *, mailing=None, channel):
    """Unsubscribe ``email`` and return its Suppression row.

    ``mailing`` is the mailing whose link was used (or None), ``channel`` a
    ``Suppression.Channel`` value ("page" or "one_click").

    Idempotent, also when two requests race: an existing suppression is kept as it is
    (an address that bounced stays "bounced"), and a repeat that changes nothing sends
    no signal. The ``unsubscribed`` signal is sent after the commit, so receivers see
    the committed state and a rolled-back unsubscribe never reaches the host.
    """
    email = normalise_email(email)
    with transaction.atomic():
        suppression, created = suppress(email, Suppression.Reason.UNSUBSCRIBED,
                                        mailing=mailing, channel=channel)
        records = _clear_host_flags(email)
        skipped = states.skip_waiting(_deliveries_to(email), Delivery.SkipReason.UNSUBSCRIBED)
        if created or records or skipped:
            transaction.on_commit(functools.partial(
                unsubscribed.send, sender=Suppression, email=email, mailing=mailing,
                channel=channel, records=records,
            ))
    return suppression


def _deliveries_to(email):
    """Deliveries to ``email`` in any letter case (addresses.address_key)."""
    return Delivery.objects.annotate(_key=key_expression("email")).filter(_key=address_key(email))


def _clear_host_flags(email):
    """Clear the subscribed flag of the host records that were mailed at ``email``.

    Only records that still carry the address are changed: a record whose address was
    edited since the mailing belongs to someone else now. ``.update()`` does not send
    the host's save signals, which is why the ``unsubscribed`` signal lists the records.
    """
    ids_by_type = defaultdict(set)
    mailed = Recipient.objects.filter(deliveries__in=_deliveries_to(email)).values_list(
        "content_type_id", "object_id"
    ).distinct()
    for content_type_id, object_id in mailed:
        ids_by_type[content_type_id].add(object_id)
    cleared = []
    for source in get_sources():
        ids = ids_by_type.get(source.content_type.pk)
        if not ids or source.subscribed_field is None:
            continue
        # The base manager: a host's default manager may hide records (soft deletion)
        # that must lose their flag all the same.
        records = source.get_model()._base_manager.filter(
            pk__in=ids, **{source.subscribed_field: True}
        )
        records = [record for record in records if source.has_address(record, email)]
        source.get_model()._base_manager.filter(pk__in=[record.pk for record in records]).update(
            **{source.subscribed_field: False}
        )
        for record in records:
            setattr(record, source.subscribed_field, False)
        cleared.extend(records)
    return cleared
