"""Helpers of the engine tests: set up a manager's mailing and run the engine."""

from django.contrib.contenttypes.models import ContentType

from example_project.crm.models import Contact
from massmail import api
from massmail.models import Recipient
from massmail.sending.runner import run

from .factories import ContactFactory, MessageFactory


def contacts(owner, count, **fields):
    return [ContactFactory(owner=owner, **fields) for _ in range(count)]


def mark_vip(records):
    for record in records:
        Recipient.objects.update_or_create(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
            defaults={"vip": True},
        )


def start_mailing(owner, querysets=None, message=None, **options):
    """Create and activate a mailing of the owner's contacts (or the given querysets)."""
    message = message or MessageFactory(owner=owner)
    querysets = querysets or [Contact.objects.filter(owner=owner)]
    mailing = api.create_mailing(owner=owner, message=message, recipients=querysets, **options)
    api.activate(mailing)
    return mailing


def send_all():
    """Run the in-process engine until nothing more can be sent now."""
    run()


def received_by_account(smtp_server):
    """{from address: [recipient addresses]} of what the server accepted."""
    result = {}
    for message in smtp_server.messages:
        result.setdefault(message.mail_from, []).extend(message.rcpt_tos)
    return result
