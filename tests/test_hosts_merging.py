"""A host converts a lead into a contact or merges duplicates: ``api.merge_records``
moves massmail's state (VIP, sticky account, delivery history) to the surviving record;
deleting a record keeps the suppressions of its address."""

import pytest
from django.contrib.contenttypes.models import ContentType

from massmail import api
from massmail.audience import Exclusion
from massmail.models import Delivery, Recipient, Suppression
from massmail.suppressions import suppress

from .factories import (
    ContactFactory,
    DeliveryFactory,
    EmailAccountFactory,
    LeadFactory,
    MailingFactory,
    MessageFactory,
    RecipientFactory,
)

pytestmark = pytest.mark.django_db


def state_of(record):
    return Recipient.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk).first()


def test_converting_a_lead_moves_vip_account_and_history_to_the_contact(anna):
    lead = LeadFactory(owner=anna, email="kim@example.com")
    contact = ContactFactory(owner=anna, email="kim@example.com")
    account = EmailAccountFactory(owner=anna)
    old = RecipientFactory(record=lead, vip=True, account=account)
    message = MessageFactory(owner=anna)
    sent = DeliveryFactory(mailing=MailingFactory(owner=anna, message=message), recipient=old,
                           email="kim@example.com", status=Delivery.Status.SENT)

    merged = api.merge_records(lead, contact)

    assert (merged.vip, merged.account) == (True, account)
    assert merged == state_of(contact)
    assert state_of(lead) is None
    sent.refresh_from_db()
    assert sent.recipient == merged
    # "already received" follows the record: the contact is left out of a new mailing.
    mailing = api.create_mailing(owner=anna, message=message, skip_already_received=True,
                                 recipients=[type(contact).objects.filter(pk=contact.pk)])
    assert mailing.excluded == {Exclusion.ALREADY_RECEIVED: 1}


def test_merging_duplicates_keeps_the_survivor_s_own_account(anna):
    keep, duplicate = ContactFactory.create_batch(2, owner=anna)
    mine, theirs = EmailAccountFactory.create_batch(2, owner=anna)
    RecipientFactory(record=keep, vip=False, account=mine)
    RecipientFactory(record=duplicate, vip=True, account=theirs)

    merged = api.merge_records(duplicate, keep)

    assert (merged.vip, merged.account) == (True, mine)
    assert Recipient.objects.count() == 1
    # Again: nothing left to move, nothing changes.
    assert api.merge_records(duplicate, keep) == merged
    assert Recipient.objects.count() == 1


def test_a_record_without_state_merges_into_nothing(anna):
    assert api.merge_records(ContactFactory(owner=anna), LeadFactory(owner=anna)) is None
    assert not Recipient.objects.exists()


def test_a_record_cannot_merge_into_itself(anna):
    contact = ContactFactory(owner=anna)
    with pytest.raises(ValueError):
        api.merge_records(contact, contact)


def test_deleting_a_record_keeps_the_suppression_of_its_address(anna):
    contact = ContactFactory(owner=anna, email="gone@example.com")
    suppress("gone@example.com", Suppression.Reason.UNSUBSCRIBED)
    contact.delete()

    assert Suppression.objects.filter(email="gone@example.com").exists()
    newcomer = ContactFactory(owner=anna, email="gone@EXAMPLE.com")
    mailing = api.create_mailing(owner=anna, message=MessageFactory(owner=anna),
                                 recipients=[type(newcomer).objects.all()])
    assert not mailing.deliveries.exists()
    assert mailing.excluded == {Exclusion.UNSUBSCRIBED: 1}
