"""Moving massmail's state from one CRM record to another.

Hosts convert leads into contacts and merge duplicate records. massmail keeps its
per-record state in its own Recipient row (VIP flag, sticky sending account) and ties
the delivery history (what was sent, "already received") to that row, so the host tells
massmail when a record's successor takes over: ``api.merge_records(old, new)``.
Suppressions are kept by address, so they need no moving and survive deleting a record.
"""

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from .models import Recipient


def _recipient(record, lock=True):
    content_type = ContentType.objects.get_for_model(type(record))
    queryset = Recipient.objects.select_for_update() if lock else Recipient.objects
    return queryset.filter(content_type=content_type, object_id=record.pk).first()


def merge_records(old, new):
    """Give ``new`` (any registered recipient model) massmail's state of ``old``.

    VIP if either was; ``new`` keeps its own sticky account and otherwise takes
    ``old``'s; every delivery of ``old`` (past and pending) becomes ``new``'s, so
    "already received" and reports follow the record. ``old``'s state is removed, so
    calling it again changes nothing. Returns ``new``'s Recipient (None when neither
    record has any state). Call it before deleting ``old``.
    """
    if type(old) is type(new) and old.pk == new.pk:
        raise ValueError("A record cannot be merged into itself.")
    with transaction.atomic():
        source = _recipient(old)
        if source is None:
            return _recipient(new, lock=False)
        content_type = ContentType.objects.get_for_model(type(new))
        target, _created = Recipient.objects.select_for_update().get_or_create(
            content_type=content_type, object_id=new.pk)
        target.vip = target.vip or source.vip
        target.account_id = target.account_id or source.account_id
        target.save(update_fields=["vip", "account"])
        source.deliveries.update(recipient=target)
        source.delete()
    return target
