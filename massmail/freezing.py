"""A message is frozen once a mailing of it is active or has sent: recipients of one
mailing always get one version.

massmail refuses edits of a frozen message (its subject, content, signature, click
tracking and attachments) and of a signature that a frozen message uses, instead of
rendering from a snapshot: a snapshot would let the admin show one text while the
engine sends another. To change a frozen message, copy it ("Copy" on the message page)
and use the copy in a new mailing.
"""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .exceptions import MassmailError

# The fields of a message that change what recipients get.
CONTENT_FIELDS = ("subject", "content", "signature_id", "track_clicks")
FROZEN_TEXT = _("This message is used by a mailing that is active or has sent, so it can no "
                "longer change: recipients of one mailing always get one version. Copy the "
                "message to make a new version.")
SIGNATURE_FROZEN_TEXT = _("This signature is used by a message that a mailing is sending or "
                          "has sent, so it can no longer change. Create a new signature instead.")


class MessageFrozen(MassmailError):
    """An edit of a frozen message or of a signature such a message uses."""


def frozen_messages():
    """The messages that may no longer change."""
    from .models import Delivery, Mailing, Message

    sent = (Delivery.Status.SENDING, Delivery.Status.SENT, Delivery.Status.FAILED,
            Delivery.Status.UNKNOWN)
    mailings = Mailing.objects.filter(
        Q(status__in=(Mailing.Status.ACTIVE, Mailing.Status.DONE))
        | Q(deliveries__status__in=sent))
    return Message.objects.filter(pk__in=mailings.values("message_id"))


def is_frozen(message):
    return bool(message.pk) and frozen_messages().filter(pk=message.pk).exists()


def changes_content(message):
    """True when ``message`` differs from its stored version in what recipients get."""
    stored = type(message).objects.filter(pk=message.pk).values(*CONTENT_FIELDS).first()
    return stored is not None and any(
        stored[field] != getattr(message, field) for field in CONTENT_FIELDS)


def check_message(message):
    """Raise MessageFrozen when saving ``message`` would change a frozen version."""
    if message.pk and changes_content(message) and is_frozen(message):
        raise MessageFrozen(FROZEN_TEXT)


def check_signature(signature):
    if not signature.pk:
        return
    stored = type(signature).objects.filter(pk=signature.pk).values_list("content", flat=True).first()
    if stored is not None and stored != signature.content and frozen_messages().filter(
            signature_id=signature.pk).exists():
        raise MessageFrozen(SIGNATURE_FROZEN_TEXT)


def check_attachment(attachment):
    if is_frozen(attachment.message):
        raise MessageFrozen(FROZEN_TEXT)
