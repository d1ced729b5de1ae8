"""The data model: the database itself refuses duplicates, addresses are normalised in
one place, and the settings singleton starts from documented defaults."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.test import override_settings

from massmail.addresses import email_domain, is_valid_email, normalise_email
from massmail.models import Delivery, EmailAccount, MassmailSettings, Recipient, Signature, Suppression

from .factories import (
    ContactFactory,
    DeliveryFactory,
    EmailAccountFactory,
    MailingFactory,
    RecipientFactory,
    SignatureFactory,
    SuppressionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- constraints -------------------------------------------------------------------


def test_one_recipient_per_record():
    contact = ContactFactory()
    content_type = ContentType.objects.get_for_model(contact)
    Recipient.objects.create(content_type=content_type, object_id=contact.pk)
    # The savepoint keeps the test transaction usable after the refusal.
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.create(content_type=content_type, object_id=contact.pk, vip=True)
    assert Recipient.objects.count() == 1


def test_same_object_id_of_another_model_is_another_recipient():
    contact = ContactFactory()
    Recipient.objects.create(content_type=ContentType.objects.get_for_model(contact),
                             object_id=contact.pk)
    Recipient.objects.create(content_type=ContentType.objects.get(app_label="crm", model="lead"),
                             object_id=contact.pk)
    assert Recipient.objects.count() == 2


def test_one_delivery_per_normalised_address_in_a_mailing():
    mailing = MailingFactory()
    first = DeliveryFactory(mailing=mailing, email="A@Example.COM ")
    assert first.email == "A@example.com"
    other_record = RecipientFactory(record=ContactFactory(owner=mailing.owner))
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(mailing=mailing, recipient=other_record, email="A@example.com")
    assert list(mailing.deliveries.values_list("email", flat=True)) == ["A@example.com"]


def test_local_part_case_is_the_same_address():
    """Stored as written, compared by key: a case variant in one mailing is refused."""
    mailing = MailingFactory()
    DeliveryFactory(mailing=mailing, email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        DeliveryFactory(mailing=mailing, email="A@example.com")
    assert list(mailing.deliveries.values_list("email", flat=True)) == ["a@example.com"]


def test_same_address_in_two_mailings():
    first, second = MailingFactory(), MailingFactory()
    DeliveryFactory(mailing=first, email="x@example.com")
    DeliveryFactory(mailing=second, email="X@EXAMPLE.com")
    assert Delivery.objects.filter(email="X@example.com").count() == 1
    assert Delivery.objects.count() == 2


def test_one_main_account_per_owner():
    anna, ben = UserFactory(), UserFactory()
    EmailAccountFactory(owner=anna, main=True)
    EmailAccountFactory(owner=ben, main=True)  # another owner may have their own
    EmailAccountFactory(owner=anna, main=False)
    EmailAccountFactory(owner=anna, main=False)  # any number of non-main accounts
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAccountFactory(owner=anna, main=True)
    assert EmailAccount.objects.filter(main=True).count() == 2


def test_one_default_signature_per_owner():
    anna, ben = UserFactory(), UserFactory()
    SignatureFactory(owner=anna, default=True)
    SignatureFactory(owner=ben, default=True)
    SignatureFactory(owner=anna, default=False)
    SignatureFactory(owner=anna, default=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        SignatureFactory(owner=anna, default=True)
    assert Signature.objects.filter(default=True).count() == 2


def test_account_cannot_use_starttls_and_implicit_tls():
    EmailAccountFactory(use_tls=True, use_ssl=False)
    EmailAccountFactory(use_tls=False, use_ssl=True)
    EmailAccountFactory(use_tls=False, use_ssl=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailAccountFactory(use_tls=True, use_ssl=True)
    assert EmailAccount.objects.count() == 3


def test_suppression_unique_by_normalised_address():
    SuppressionFactory(email=" Gone@Example.ORG")
    with pytest.raises(IntegrityError), transaction.atomic():
        SuppressionFactory(email="Gone@example.org")
    assert list(Suppression.objects.values_list("email", flat=True)) == ["Gone@example.org"]


# --- addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "normal"), [
    ("A@Example.COM ", "A@example.com"),
    ("  John.Doe@MAIL.Example.org\t", "John.Doe@mail.example.org"),
    ("already@normal.example", "already@normal.example"),
    ('"we@ird"@Example.com', '"we@ird"@example.com'),  # the domain is after the last @
    ("no-at-sign ", "no-at-sign"),
    ("", ""),
    (None, ""),
    ("   ", ""),
])
def test_normalise_email(raw, normal):
    assert normalise_email(raw) == normal


def test_normalise_is_idempotent():
    once = normalise_email(" Mixed.Case@Some.Domain.EXAMPLE ")
    assert normalise_email(once) == once


@pytest.mark.parametrize("address", [
    "a@example.com",
    "first.last+tag@sub.example.org",
    "x@xn--bcher-kva.example",
])
def test_valid_addresses(address):
    assert is_valid_email(address)


@pytest.mark.parametrize("address", [
    "",
    None,
    "plainaddress",
    "@example.com",
    "a@",
    "a@@example.com",
    "two words@example.com",
    "a@example.com\r\nBcc: victim@example.org",
    "a@example.com\nBcc: victim@example.org",
    "a@example.com\r",
    "a@example.com, b@example.com",
])
def test_invalid_addresses(address):
    assert not is_valid_email(address)


def test_email_domain():
    assert email_domain("someone@mail.example.com") == "mail.example.com"


# --- MassmailSettings --------------------------------------------------------------


@override_settings(TIME_ZONE="America/New_York", MASSMAIL={"EMAILS_PER_DAY": 321})
def test_settings_singleton_defaults():
    assert not MassmailSettings.objects.exists()
    obj = MassmailSettings.load()
    assert obj.pk == 1
    assert obj.emails_per_day == 321
    assert obj.use_business_time is True
    assert obj.business_time_start == datetime.time(8, 30)
    assert obj.business_time_end == datetime.time(17, 30)
    assert obj.business_days == [0, 1, 2, 3]
    assert obj.time_zone == "America/New_York"
    assert obj.unsubscribe_url == ""  # massmail's own page


def test_settings_default_emails_per_day_from_conf():
    from massmail.conf import DEFAULTS

    assert MassmailSettings.load().emails_per_day == DEFAULTS["EMAILS_PER_DAY"]


def test_settings_is_a_singleton():
    first = MassmailSettings.load()
    first.emails_per_day = 42
    first.save()
    # Saving a new instance overwrites the one row instead of adding a second.
    MassmailSettings(emails_per_day=7).save()
    assert MassmailSettings.objects.count() == 1
    assert MassmailSettings.load().emails_per_day == 7


def test_account_daily_limit_falls_back_to_settings():
    settings_obj = MassmailSettings.load()
    settings_obj.emails_per_day = 150
    settings_obj.save()
    assert EmailAccountFactory(daily_limit=None).effective_daily_limit() == 150
    assert EmailAccountFactory(daily_limit=20).effective_daily_limit() == 20
