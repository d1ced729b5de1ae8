"""The plug-in API: the registry of recipient sources, and the system checks that
report a misconfigured MASSMAIL["RECIPIENT_SOURCES"] at `manage.py check` time."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.checks import Error, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from example_project.crm.massmail import CompanySource, ContactSource, LeadSource
from example_project.crm.models import Company, Contact, Lead
from massmail.checks import recipient_sources_check
from massmail.recipients import (
    BUILTIN_MERGE_FIELDS,
    RecipientSource,
    get_sources,
    merge_field_names,
    source_for_content_type,
    source_for_model,
)

from .factories import ContactFactory, LeadFactory, UserFactory

CONTACT = "example_project.crm.massmail.ContactSource"
COMPANY = "example_project.crm.massmail.CompanySource"
LEAD = "example_project.crm.massmail.LeadSource"
HERE = "tests.test_recipients"


# Misconfigured sources, referenced by dotted path from the tests below.


class MissingEmailFieldSource(RecipientSource):
    model = "crm.Lead"
    email_field = "mail"


class MissingOwnerFieldSource(RecipientSource):
    model = "crm.Lead"
    owner_field = "manager"


class MissingSubscribedFieldSource(RecipientSource):
    model = "crm.Lead"
    subscribed_field = "newsletter"


class EmailFieldWrongTypeSource(RecipientSource):
    model = "crm.Contact"
    email_field = "disqualified"


class OwnerFieldWrongTypeSource(RecipientSource):
    model = "crm.Lead"
    owner_field = "company_name"


class SubscribedFieldWrongTypeSource(RecipientSource):
    model = "crm.Lead"
    subscribed_field = "first_name"


class UnknownModelSource(RecipientSource):
    model = "crm.Customer"


class UnknownAppSource(RecipientSource):
    model = "shop.Customer"


class MalformedModelSource(RecipientSource):
    model = "Contact"


class NoModelSource(RecipientSource):
    pass


class SecondContactSource(RecipientSource):
    model = "crm.contact"  # the label's case does not make it another model


class StringKeySource(RecipientSource):
    """Sessions have a string primary key, which Recipient.object_id cannot hold."""

    model = "sessions.Session"
    email_field = "session_key"


class NotASource:
    model = "crm.Contact"


not_a_class = ContactSource()


def sources(*paths):
    return override_settings(MASSMAIL={"RECIPIENT_SOURCES": list(paths)})


def massmail_errors():
    """massmail's recipient-source errors from the full `manage.py check` run."""
    return [m for m in run_checks() if m.id and m.id.startswith("massmail.E00")]


# --- registry ----------------------------------------------------------------------


def test_sources_are_the_configured_classes_in_order():
    assert [type(s) for s in get_sources()] == [ContactSource, CompanySource, LeadSource]


def test_sources_are_instantiated_once_per_setting_value():
    assert get_sources() is get_sources()
    with sources(LEAD):
        assert [type(s) for s in get_sources()] == [LeadSource]
    assert [type(s) for s in get_sources()] == [ContactSource, CompanySource, LeadSource]


def test_no_sources_configured():
    with sources():
        assert get_sources() == ()
        assert merge_field_names() == BUILTIN_MERGE_FIELDS


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "source_class"), [
    (Contact, ContactSource), (Company, CompanySource), (Lead, LeadSource),
])
def test_source_for_model_class_instance_and_content_type(model, source_class):
    assert isinstance(source_for_model(model), source_class)
    assert isinstance(source_for_model(model()), source_class)
    content_type = ContentType.objects.get_for_model(model)
    assert isinstance(source_for_content_type(content_type), source_class)
    assert source_for_model(model).content_type == content_type


def test_source_for_unregistered_model_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match=r'auth.User is not in MASSMAIL\["RECIPIENT_SOURCES"\]'):
        source_for_model(get_user_model())
    with sources(CONTACT), pytest.raises(ImproperlyConfigured, match="crm.Lead"):
        source_for_model(Lead)


def test_merge_field_names_builtins_first_then_sources_without_duplicates():
    assert merge_field_names() == (
        "email", "unsubscribe_url", "postal_address",
        "first_name", "last_name", "full_name", "company",
    )
    with sources(COMPANY):
        assert merge_field_names() == (*BUILTIN_MERGE_FIELDS, "company")


@pytest.mark.django_db
def test_source_reads_records_through_its_field_names():
    owner = UserFactory()
    contact = ContactFactory(owner=owner, email="ann@example.org", massmail=False,
                             first_name="Ann", last_name="Lee")
    source = source_for_model(Contact)
    assert source.get_email(contact) == "ann@example.org"
    assert source.get_owner_id(contact) == owner.pk
    assert source.is_subscribed(contact) is False
    assert source.merge_values(contact) == {
        "first_name": "Ann", "last_name": "Lee", "full_name": "Ann Lee", "company": "",
    }
    assert str(source.label) == "contacts"


@pytest.mark.django_db
def test_eligible_excludes_what_the_host_says():
    keep = LeadFactory()
    LeadFactory(disqualified=True)
    assert list(source_for_model(Lead).eligible(Lead.objects.all())) == [keep]


def test_base_source_defaults():
    source = RecipientSource()
    assert source.email_field == "email"
    assert source.owner_field == "owner"
    # Without a host flag every record counts as subscribed.
    assert source.is_subscribed(object()) is True
    assert source.merge_values(object()) == {}
    assert RecipientSource().eligible("queryset") == "queryset"


# --- system checks -----------------------------------------------------------------


def test_example_configuration_passes_the_checks():
    assert recipient_sources_check(None) == []
    assert massmail_errors() == []


@pytest.mark.parametrize(("paths", "error_id", "message"), [
    ([f"{HERE}.UnknownModelSource"], "massmail.E003",
     "Recipient source 'tests.test_recipients.UnknownModelSource' names an unknown model "
     "'crm.Customer'."),
    ([f"{HERE}.UnknownAppSource"], "massmail.E003", "names an unknown model 'shop.Customer'"),
    ([f"{HERE}.MalformedModelSource"], "massmail.E003", "names an unknown model 'Contact'"),
    ([f"{HERE}.NoModelSource"], "massmail.E003", "names an unknown model None"),
    ([f"{HERE}.MissingEmailFieldSource"], "massmail.E005",
     "Recipient source 'tests.test_recipients.MissingEmailFieldSource': crm.Lead has no field "
     "'mail' (its email_field)."),
    ([f"{HERE}.MissingOwnerFieldSource"], "massmail.E005",
     "crm.Lead has no field 'manager' (its owner_field)."),
    ([f"{HERE}.MissingSubscribedFieldSource"], "massmail.E005",
     "crm.Lead has no field 'newsletter' (its subscribed_field)."),
    ([f"{HERE}.EmailFieldWrongTypeSource"], "massmail.E006",
     "crm.Contact.disqualified is a BooleanField, expected CharField or EmailField."),
    ([f"{HERE}.OwnerFieldWrongTypeSource"], "massmail.E006",
     "crm.Lead.company_name is a CharField, expected ForeignKey."),
    ([f"{HERE}.SubscribedFieldWrongTypeSource"], "massmail.E006",
     "crm.Lead.first_name is a CharField, expected BooleanField."),
    ([CONTACT, LEAD, CONTACT], "massmail.E004",
     "crm.Contact is listed twice in MASSMAIL['RECIPIENT_SOURCES'] "
     f"('{CONTACT}' and '{CONTACT}')."),
    ([CONTACT, f"{HERE}.SecondContactSource"], "massmail.E004",
     f"crm.Contact is listed twice in MASSMAIL['RECIPIENT_SOURCES'] ('{CONTACT}' and "
     f"'{HERE}.SecondContactSource')."),
    ([f"{HERE}.DoesNotExist"], "massmail.E001",
     "Recipient source 'tests.test_recipients.DoesNotExist' cannot be imported"),
    (["no_such_package.sources.ContactSource"], "massmail.E001",
     "Recipient source 'no_such_package.sources.ContactSource' cannot be imported"),
    (["ContactSource"], "massmail.E001", "'ContactSource' cannot be imported"),
    ([f"{HERE}.NotASource"], "massmail.E002",
     "'tests.test_recipients.NotASource' is not a subclass of massmail.recipients.RecipientSource."),
    ([f"{HERE}.not_a_class"], "massmail.E002", "is not a subclass of"),
    ([f"{HERE}.StringKeySource"], "massmail.E007",
     "sessions.Session needs an integer primary key."),
])
def test_misconfiguration_is_a_clear_system_check_error(paths, error_id, message):
    with sources(*paths):
        direct = recipient_sources_check(None)
        from_run = massmail_errors()
    assert direct == from_run
    matching = [e for e in direct if e.id == error_id]
    assert len(matching) == 1, direct
    error = matching[0]
    assert isinstance(error, Error)
    assert message in error.msg


def test_each_bad_source_is_reported_and_good_ones_are_not():
    with sources(CONTACT, f"{HERE}.MissingEmailFieldSource", f"{HERE}.DoesNotExist",
                 f"{HERE}.NotASource", COMPANY):
        errors = recipient_sources_check(None)
    assert sorted(e.id for e in errors) == ["massmail.E001", "massmail.E002", "massmail.E005"]
    assert all("ContactSource" not in e.msg and "CompanySource" not in e.msg for e in errors)


def test_errors_carry_a_hint_where_one_helps():
    with sources(f"{HERE}.UnknownModelSource"):
        (error,) = recipient_sources_check(None)
    assert error.hint == "Set `model` to 'app_label.ModelName' of an installed app."
    with sources(f"{HERE}.DoesNotExist"):
        (error,) = recipient_sources_check(None)
    assert "MASSMAIL['RECIPIENT_SOURCES']" in error.hint
