"""Address identity: one address in any letter case is one person, for duplicates,
suppressions, unsubscribes, bounces and "already received"; emails still go to the
address as written (trimmed)."""

import contextlib
import datetime
import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from example_project.crm.models import Contact, Lead
from massmail import api
from massmail.addresses import address_key, split_addresses
from massmail.models import Delivery, Suppression
from massmail.suppressions import suppress
from massmail.unsubscribe import unsubscribe

from .engine import send_all, start_mailing
from .factories import (
    ContactFactory,
    DeliveryFactory,
    LeadFactory,
    MailingFactory,
    MessageFactory,
    SuperuserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
migration = importlib.import_module("massmail.migrations.0006_audience")


def create(manager, *querysets, **options):
    return api.create_mailing(owner=manager, message=options.pop("message", None)
                              or MessageFactory(owner=manager), recipients=querysets, **options)


@pytest.mark.parametrize(("raw", "key"), [
    (" Weird@Example.ORG ", "weird@example.org"),
    ("WEIRD@example.org", "weird@example.org"),
    ("", ""),
])
def test_address_key(raw, key):
    assert address_key(raw) == key


def test_split_addresses_keeps_the_first_spelling_of_each_address():
    assert split_addresses(" a@X.org, b@y.org;A@x.ORG ;; ") == ["a@x.org", "b@y.org"]
    assert split_addresses(None) == []


def test_case_variants_on_a_contact_and_a_lead_get_one_delivery(smtp_server, always_open,
                                                                 account_on):
    manager = UserFactory()
    account_on(manager)
    ContactFactory(owner=manager, email="Weird@Example.ORG")
    LeadFactory(owner=manager, email=" WEIRD@example.org ")
    mailing = start_mailing(manager, [Contact.objects.filter(owner=manager),
                                      Lead.objects.filter(owner=manager)])
    assert mailing.excluded == {"duplicate": 1}
    send_all()
    # Sent to the address as written on the first record, trimmed.
    assert smtp_server.handler.recipients() == ["Weird@example.org"]


def test_unsubscribe_stops_a_case_variant_in_a_new_mailing():
    manager = UserFactory()
    unsubscribe("John.Doe@example.org", channel=Suppression.Channel.PAGE)
    LeadFactory(owner=manager, email="john.doe@example.org")
    mailing = create(manager, Lead.objects.all())
    assert mailing.excluded == {"unsubscribed": 1}
    assert not mailing.deliveries.exists()


def test_suppress_keeps_one_row_and_the_first_reason_for_case_variants():
    first, created = suppress("Bob@Example.org", Suppression.Reason.BOUNCED)
    again, created_again = suppress(" BOB@example.ORG", Suppression.Reason.UNSUBSCRIBED)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert list(Suppression.objects.values_list("email", "reason")) == [
        ("Bob@example.org", "bounced")]


def test_a_bounce_skips_a_case_variant_at_creation_and_at_send_time(smtp_server, always_open,
                                                                    account_on):
    manager = UserFactory()
    account_on(manager)
    waiting = ContactFactory(owner=manager, email="Carla@example.org")
    mailing = create(manager, Contact.objects.filter(pk=waiting.pk))
    suppress("CARLA@example.org", Suppression.Reason.BOUNCED)
    ContactFactory(owner=manager, email="carla@EXAMPLE.org")
    assert create(manager, Contact.objects.all()).excluded == {"suppressed": 2}

    api.activate(mailing)
    send_all()
    assert not smtp_server.messages
    assert mailing.deliveries.get().skip_reason == "suppressed"


def test_already_received_by_another_spelling(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    message = MessageFactory(owner=manager)
    first = ContactFactory(owner=manager, email="Ann@example.org")
    start_mailing(manager, [Contact.objects.filter(pk=first.pk)], message=message)
    send_all()
    ContactFactory(owner=manager, email="ANN@example.org")
    mailing = create(manager, Contact.objects.exclude(pk=first.pk), message=message,
                     skip_already_received=True)
    assert mailing.excluded == {"already_received": 1}


def test_suppression_admin_refuses_a_case_variant(client):
    client.force_login(SuperuserFactory())
    add = reverse("admin:massmail_suppression_add")
    assert client.post(add, {"email": "Karin.20@Anna-CO.example", "reason": "manual"}
                       ).status_code == 302
    response = client.post(add, {"email": "karin.20@anna-co.example", "reason": "manual"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["email"]
    assert errors == ["karin.20@anna-co.example is already suppressed (as "
                      "Karin.20@anna-co.example, added manually): addresses are compared "
                      "without regard to letter case."]
    assert Suppression.objects.count() == 1


@contextlib.contextmanager
def without_unique_index(name, table, columns):
    """Rows written before the change: drop a key index, then build it again."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {name}")
        yield
        migration.checks_now(connection.schema_editor())
        cursor.execute(f"CREATE UNIQUE INDEX {name} ON {table} ({columns})")


def test_data_migration_merges_case_variant_suppressions_keeping_the_oldest():
    now = timezone.now()
    mailing = MailingFactory()
    with without_unique_index("massmail_one_suppression_per_address", "massmail_suppression",
                              "LOWER(email)"):
        Suppression.objects.bulk_create([
            Suppression(email="Dan@example.org", reason="unsubscribed", mailing=mailing,
                        created_at=now - datetime.timedelta(days=2)),
            Suppression(email="DAN@example.org", reason="bounced", created_at=now),
            Suppression(email="Eve@example.org", reason="manual", created_at=now),
        ])
        migration.merge_suppressions(apps, connection.schema_editor())
    assert sorted(Suppression.objects.values_list("email", "reason", "mailing")) == [
        ("Dan@example.org", "unsubscribed", mailing.pk), ("Eve@example.org", "manual", None)]


def test_data_migration_keeps_the_sent_row_of_case_variants_in_a_mailing():
    first = DeliveryFactory(email="Fay@example.org")
    with without_unique_index("massmail_one_delivery_per_address", "massmail_delivery",
                              "mailing_id, LOWER(email)"):
        sent = DeliveryFactory(mailing=first.mailing, recipient=first.recipient,
                               email="FAY@example.org", status=Delivery.Status.SENT)
        other = DeliveryFactory(mailing=first.mailing, email="gus@example.org")
        migration.merge_deliveries(apps, connection.schema_editor())
    assert set(first.mailing.deliveries.values_list("pk", flat=True)) == {sent.pk, other.pk}
