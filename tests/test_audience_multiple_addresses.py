"""Records with several addresses ("a@x.org, b@y.org"): each address is its own
delivery, and duplicates and suppressions are decided per address, at creation and at
send time."""

import pytest

from example_project.crm.massmail import ContactSource
from example_project.crm.models import Contact, Lead
from massmail import api
from massmail.models import Suppression

from .engine import send_all, start_mailing
from .factories import ContactFactory, LeadFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


class TwoAddressContactSource(ContactSource):
    """A host source whose records carry a second address outside email_field."""

    def addresses(self, record):
        return [*super().addresses(record), f"office-{record.pk}@Example.org"]


@pytest.fixture
def massmail(settings):
    def configure(**keys):
        settings.MASSMAIL = {**settings.MASSMAIL, **keys}
    return configure


def created(manager, *querysets):
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=querysets or [Contact.objects.all()])
    return sorted(mailing.deliveries.values_list("email", flat=True)), mailing.excluded


def test_each_address_of_a_record_is_its_own_delivery():
    manager = UserFactory()
    ContactFactory(owner=manager, email="ann@example.org, Ann.Home@Example.net")
    LeadFactory(owner=manager, email="ann.home@example.net")
    emails, excluded = created(manager, Contact.objects.all(), Lead.objects.all())
    assert (emails, excluded) == (["Ann.Home@example.net", "ann@example.org"], {"duplicate": 1})
    assert api.count_recipients(owner=manager, recipients=[Contact.objects.all(),
                                                           Lead.objects.all()]) == (2, excluded)


def test_semicolons_duplicates_and_invalid_parts_of_one_record():
    manager = UserFactory()
    ContactFactory(owner=manager, email=" bob@example.org; not an address ;; BOB@example.org")
    ContactFactory(owner=manager, email="nothing, valid")
    assert created(manager) == (["bob@example.org"], {"invalid_address": 2})


def test_suppression_is_per_address():
    manager = UserFactory()
    ContactFactory(owner=manager, email="cara@example.org, cara@work.example")
    Suppression.objects.create(email="CARA@work.example", reason=Suppression.Reason.BOUNCED)
    assert created(manager) == (["cara@example.org"], {"suppressed": 1})


def test_record_level_exclusions_count_the_record_once():
    manager = UserFactory()
    ContactFactory(owner=manager, massmail=False, email="d1@example.org, d2@example.org")
    ContactFactory(owner=UserFactory(), email="e1@example.org, e2@example.org")
    assert created(manager) == ([], {"host_unsubscribed": 1, "not_owner": 1})


def test_splitting_can_be_turned_off(massmail):
    massmail(SPLIT_ADDRESS_FIELDS=False)
    manager = UserFactory()
    ContactFactory(owner=manager, email="f@example.org, g@example.org")
    assert created(manager) == ([], {"invalid_address": 1})


def test_a_source_overriding_addresses_is_honoured_at_creation(massmail):
    massmail(RECIPIENT_SOURCES=[f"{__name__}.TwoAddressContactSource"])
    manager = UserFactory()
    contact = ContactFactory(owner=manager, email="hal@example.org")
    assert created(manager) == (
        ["hal@example.org", f"office-{contact.pk}@example.org"], {})


def test_send_time_checks_each_address(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    ContactFactory(owner=manager, email="ivy@example.org; Ivy@Work.example")
    changed = ContactFactory(owner=manager, email="jon@example.org, jon@work.example")
    mailing = start_mailing(manager)
    assert mailing.deliveries.count() == 4
    Contact.objects.filter(pk=changed.pk).update(email="jon@example.org")
    Suppression.objects.create(email="ivy@work.example", reason=Suppression.Reason.MANUAL)
    send_all()
    assert sorted(smtp_server.handler.recipients()) == ["ivy@example.org", "jon@example.org"]
    skipped = dict(mailing.deliveries.filter(status="skipped").values_list("email", "skip_reason"))
    assert skipped == {"Ivy@work.example": "suppressed", "jon@work.example": "address_changed"}
