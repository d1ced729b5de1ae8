"""Set-based creation (PostgreSQL) gives exactly the rows and counts of the streamed
path, which SQLite and the fallback cases use."""

from collections import Counter

import pytest
from django.db import transaction

from example_project.crm.models import Company, Contact, Lead
from massmail import api, creation
from massmail.models import Delivery, Mailing, Recipient, Suppression

from .factories import (
    CompanyFactory,
    ContactFactory,
    DeliveryFactory,
    LeadFactory,
    MailingFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Every kind of value the two paths must judge alike, in record order.
CONTACT_EMAILS = [
    "plain@example.org", "Weird@Example.ORG", "  spaced@example.org  ", "\ttabbed@example.org",
    "weird@example.org", "two@example.org, Three@Example.org", "plain@example.org; four@x.example",
    "", None, "not an address", "a@b", "user@localhost", "quoted\"@example.org",
    '"a,b"@example.org', "digit@tld.c0m", "dash@-bad.example", "bücher@example.org",
    "user@bücher.example", "UNSUB@example.org", "bounced@Example.org",
    "received@example.org", "sep@example.org,,", "ok1@example.org", "ok2@example.org",
    " " + "x" * 240 + "@example.org ",
]
# Where the database's quick checks end and Python's validator decides.
EDGE_EMAILS = [
    ".dot@example.org", "two..dots@example.org", "end.@example.org", "a@ex..ample.org",
    "a@example-.org", "a@-example.org", "a@example.org.", "dash-@example.org",
    "b@sub.ex-ample.co.uk", "C@D.CO", "e@f.g", "long" + "g" * 60 + "@example.org",
]
EXPECTED_EMAILS = sorted([
    "Three@example.org", "Weird@example.org", "four@x.example", "lead-only@example.net",
    "lead2@example.net", "lead3@example.net", "office@company.example", "ok2@example.org",
    "plain@example.org", "sep@example.org", "spaced@example.org", "tabbed@example.org",
    "two@example.org", "user@bücher.example", "user@localhost", "x" * 240 + "@example.org",
    "bücher@example.org", "dash-@example.org", "b@sub.ex-ample.co.uk", "C@d.co",
    "long" + "g" * 60 + "@example.org",
])
EXPECTED_EXCLUDED = {"duplicate": 5, "no_address": 3, "invalid_address": 14, "not_eligible": 1,
                     "host_unsubscribed": 1, "unsubscribed": 1, "suppressed": 1,
                     "already_received": 1, "not_owner": 2}


def mixed_data():
    """Three sources of one manager with duplicates within and across them, another
    manager's records, every exclusion reason, and values only Python can judge."""
    manager, rival = UserFactory(), UserFactory()
    for index, email in enumerate(CONTACT_EMAILS):
        ContactFactory(owner=manager, email=email or "", massmail=index % 11 != 7,
                       disqualified=index % 13 == 9)
    ContactFactory(owner=rival, email="rival@example.org")
    ContactFactory(owner=None, email="orphan@example.org")
    for email in ["PLAIN@example.org", "lead-only@example.net", "three@example.org",
                  "lead2@example.net, lead3@example.net", "unsub@EXAMPLE.org", *EDGE_EMAILS]:
        LeadFactory(owner=manager, email=email)
    for email in ["office@company.example", "Lead-Only@example.net", ""]:
        CompanyFactory(owner=manager, email=email)
    Suppression.objects.create(email="Unsub@example.org", reason=Suppression.Reason.UNSUBSCRIBED)
    Suppression.objects.create(email="BOUNCED@example.org", reason=Suppression.Reason.BOUNCED)
    message = MessageFactory(owner=manager)
    DeliveryFactory(mailing=MailingFactory(owner=manager, message=message),
                    email="Received@example.org", status=Delivery.Status.SENT)
    return manager, message


def querysets(manager):
    return [Contact.objects.all(), Lead.objects.filter(owner=manager), Company.objects.all()]


def created_by(path, manager, message, skip_already_received):
    """(deliveries, counts, new Recipient rows) of one path, rolled back afterwards."""
    before = set(Recipient.objects.values_list("pk", flat=True))
    with transaction.atomic():
        mailing = Mailing.objects.create(owner=manager, message=message)
        excluded = Counter()
        for queryset in querysets(manager):
            after = None
            while True:
                _n, after = creation.add_chunk(mailing, queryset, after, excluded,
                                               skip_already_received, set_based=path,
                                               stream_chunk=4)
                if after is None:
                    break
        result = (
            sorted(mailing.deliveries.values_list(
                "email", "recipient__content_type__model", "recipient__object_id")),
            dict(excluded),
            sorted(Recipient.objects.exclude(pk__in=before)
                   .values_list("content_type__model", "object_id")),
        )
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("skip_already_received", [False, True])
def test_set_based_and_streamed_paths_give_the_same_rows_and_counts(
        postgres, monkeypatch, skip_already_received):
    monkeypatch.setattr(creation, "CHUNK_RECORDS", 7)  # several chunks per queryset
    manager, message = mixed_data()
    streamed = created_by(False, manager, message, skip_already_received)
    set_based = created_by(True, manager, message, skip_already_received)
    assert set_based == streamed
    deliveries, excluded, _recipients = streamed
    assert ("Weird@example.org", "contact", Contact.objects.get(email="Weird@Example.ORG").pk
            ) in deliveries
    assert excluded["duplicate"] >= 5 and excluded["invalid_address"] >= 5
    assert set(excluded) >= {"not_owner", "no_address", "not_eligible", "host_unsubscribed",
                             "unsubscribed", "suppressed", "duplicate", "invalid_address"}
    assert ("already_received" in excluded) is skip_already_received
    records = Contact.objects.count() + Lead.objects.filter(owner=manager).count() \
        + Company.objects.count()
    assert len(deliveries) + sum(excluded.values()) >= records


def test_mixed_data_set_gives_the_same_result_on_every_database():
    """The same expectations hold on SQLite (streamed) and PostgreSQL (set-based)."""
    manager, message = mixed_data()
    mailing = api.create_mailing(owner=manager, message=message, recipients=querysets(manager),
                                 skip_already_received=True)
    emails = sorted(mailing.deliveries.values_list("email", flat=True))
    assert [e for e in emails if not e.startswith("contact")] == EXPECTED_EMAILS
    assert mailing.excluded == EXPECTED_EXCLUDED


def test_create_mailing_takes_the_set_based_path_on_postgresql(postgres, monkeypatch):
    calls = []
    monkeypatch.setattr(creation.streaming, "add", lambda *a: calls.append(a) or 0)
    manager = UserFactory()
    ContactFactory(owner=manager, email="simple@example.org")
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.all()])
    assert list(mailing.deliveries.values_list("email", flat=True)) == ["simple@example.org"]
    assert calls == []


def test_only_rows_python_must_judge_are_streamed(postgres, monkeypatch):
    streamed = []
    real_add = creation.streaming.add

    def spy(mailing, source, queryset, *args):
        streamed.extend(queryset.values_list("email", flat=True))
        return real_add(mailing, source, queryset, *args)

    monkeypatch.setattr(creation.streaming, "add", spy)
    manager = UserFactory()
    ContactFactory(owner=manager, email="simple@example.org")
    ContactFactory(owner=manager, email="one@example.org; two@example.org")
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.all()])
    assert streamed == ["one@example.org; two@example.org"]
    assert mailing.deliveries.count() == 3
