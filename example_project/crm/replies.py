"""How a host CRM imports responses to its newsletters: a receiver of massmail's
``reply_received`` signal stores the reply on the Contact, Company or Lead it answers.
"""

import logging

from django.dispatch import receiver

from massmail.signals import reply_received

from .models import Company, Contact, Lead, Reply

log = logging.getLogger(__name__)
# Characters of the reply's text that the CRM keeps.
MAX_TEXT = 10000
RECORD_FIELDS = {Contact: "contact", Company: "company", Lead: "lead"}


def reply_text(message):
    """The plain text of the reply (its HTML when it has no text part)."""
    try:
        body = message.get_body(preferencelist=("plain", "html"))
        return body.get_content()[:MAX_TEXT] if body is not None else ""
    except (LookupError, KeyError, ValueError, UnicodeError):
        return ""


@receiver(reply_received, dispatch_uid="crm_record_reply")
def record_reply(sender, delivery, message, **kwargs):
    record = delivery.recipient.record
    field = RECORD_FIELDS.get(type(record))
    if field is None:  # the record was deleted since the mailing
        log.info("Reply to delivery %s: its CRM record no longer exists", delivery.pk)
        return
    Reply.objects.create(**{field: record}, from_email=str(message.get("From", ""))[:254],
                         subject=str(message.get("Subject", ""))[:255], text=reply_text(message))
