"""Recipient rows at set-based creation: a list mailed before keeps its rows, and rows
another transaction writes at the same time are taken, not duplicated."""

import threading
import time
from collections import Counter

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from example_project.crm.models import Contact
from massmail import api, creation
from massmail.models import Mailing, Recipient

from .factories import ContactFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("set_based", [True, False])
def test_a_list_mailed_before_keeps_its_recipient_rows(postgres, monkeypatch, set_based):
    monkeypatch.setattr(creation, "CHUNK_RECORDS", 3)
    manager = UserFactory()
    old = [ContactFactory(owner=manager, email=f"old{i}@example.org") for i in range(4)]
    first = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                               recipients=[Contact.objects.filter(pk__in=[c.pk for c in old])])
    known = dict(first.deliveries.values_list("recipient__object_id", "recipient_id"))
    new = [ContactFactory(owner=manager, email=f"new{i}@example.org") for i in range(4)]
    with transaction.atomic():
        mailing = Mailing.objects.create(owner=manager, message=first.message)
        after = None
        while True:
            _n, after = creation.add_chunk(mailing, Contact.objects.all(), after, Counter(),
                                           False, set_based=set_based)
            if after is None:
                break
    rows = dict(mailing.deliveries.values_list("recipient__object_id", "recipient_id"))
    assert {pk: rows[pk] for pk in known} == known
    assert set(rows) == {c.pk for c in old + new}
    assert Recipient.objects.count() == len(old) + len(new)


@pytest.mark.django_db(transaction=True)
def test_recipient_rows_another_transaction_writes_meanwhile_are_taken(postgres):
    """The plain insert of Recipient rows waits for the other transaction and, once that
    commits, is refused by the unique index; the chunk then takes the row written."""
    manager = UserFactory()
    people = [ContactFactory(owner=manager, email=f"p{i}@example.org") for i in range(3)]
    message = MessageFactory(owner=manager)
    written, release = threading.Event(), threading.Event()
    created = {}

    def other_transaction():
        with transaction.atomic():
            created["recipient"] = Recipient.objects.create(
                content_type=ContentType.objects.get_for_model(Contact), object_id=people[1].pk)
            written.set()
            release.wait(timeout=60)

    def creation_request():
        created["mailing"] = api.create_mailing(owner=manager, message=message,
                                                recipients=[Contact.objects.all()])

    threads = [threading.Thread(target=closing(other_transaction))]
    threads[0].start()
    assert written.wait(timeout=60)
    threads.append(threading.Thread(target=closing(creation_request)))
    threads[1].start()
    deadline = time.monotonic() + 60
    while not waiting_for_a_lock():
        assert time.monotonic() < deadline, "the creation never waited for the other insert"
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(timeout=60)
    mailing = created["mailing"]
    assert sorted(mailing.deliveries.values_list("email", flat=True)) == [
        "p0@example.org", "p1@example.org", "p2@example.org"]
    assert mailing.deliveries.get(email="p1@example.org").recipient == created["recipient"]
    assert Recipient.objects.count() == 3


def closing(target):
    """``target`` closing its thread's database connection when done."""
    def run():
        try:
            target()
        finally:
            connection.close()
    return run


def waiting_for_a_lock():
    """True when a session of the test database waits for a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = "
                       "current_database() AND wait_event_type = 'Lock')")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_chunk_added_outside_a_transaction_is_written_whole(postgres):
    """The set-based path needs a transaction (its temp tables and SET LOCAL last one):
    called in autocommit, it opens its own instead of losing its temp tables."""
    manager = UserFactory()
    people = [ContactFactory(owner=manager) for _ in range(3)]
    mailing = Mailing.objects.create(owner=manager, message=MessageFactory(owner=manager))
    excluded = Counter()
    processed, after = creation.add_chunk(mailing, Contact.objects.filter(owner=manager), None,
                                          excluded, False, set_based=True)
    assert (processed, after, excluded) == (3, None, Counter())
    assert sorted(mailing.deliveries.values_list("email", flat=True)) == sorted(
        p.email for p in people)
