"""How big a message is, and the limits on it.

Every recipient gets the whole message, so its size multiplies: a 10 MB body is 10 MB
per email on the wire (more after base64), in the server's queue and in each mailbox.
Two limits:

- Gmail clips HTML above about 100 KB ("[Message clipped]", and the unsubscribe link at
  the bottom disappears with the rest): the message page warns above ``CLIP_BYTES``.
- ``MASSMAIL["MAX_MESSAGE_BYTES"]`` (default 10 MB), HTML and attachments together, is
  refused: on the message form (with the attachments being uploaded) and wherever a
  message is validated or prepared for sending (``validate_message_size``).
"""

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .conf import conf

CLIP_BYTES = 100 * 1024


def html_bytes(message, signature=None):
    """Bytes of the message's HTML (content and signature), as sent (UTF-8)."""
    if signature is None and message.signature_id:
        signature = message.signature
    return len((message.content or "").encode()) + len((signature.content if signature else "").encode())


def refuse_above_limit(total):
    """Raise ValidationError when ``total`` bytes exceed ``MAX_MESSAGE_BYTES``."""
    if total > conf.MAX_MESSAGE_BYTES:
        raise ValidationError(
            _("The message is %(size)s with its attachments; at most %(limit)s can be sent. "
              "Shorten the content or leave out attachments (link to large files instead)."),
            code="too_big",
            params={"size": filesizeformat(total), "limit": filesizeformat(conf.MAX_MESSAGE_BYTES)},
        )


def validate_message_size(message):
    """Refuse a saved message whose HTML and stored attachments exceed the limit."""
    attachments = sum(attachment.file.size for attachment in message.attachments.all()) if message.pk else 0
    refuse_above_limit(html_bytes(message) + attachments)


def clip_warning(message):
    """The warning of the message page, or None."""
    size = html_bytes(message)
    if size <= CLIP_BYTES:
        return None
    return _("The HTML of this message is %(size)s. Gmail shows only the first %(clip)s of a "
             "message and hides the rest, the unsubscribe link included, behind "
             "“[Message clipped]”.") % {"size": filesizeformat(size), "clip": filesizeformat(CLIP_BYTES)}
