"""The engine re-checks every rule at send time, not only when the mailing is created."""

import pytest

from example_project.crm.models import Contact, Lead
from massmail import api
from massmail.models import Delivery, Suppression

from .engine import contacts, send_all, start_mailing
from .factories import ContactFactory, LeadFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def skipped(mailing):
    return dict(mailing.deliveries.filter(status=Delivery.Status.SKIPPED)
                .values_list("email", "skip_reason"))


def test_changes_after_creation_are_honoured_at_send_time(smtp_server, always_open, account_on):
    manager, rival = UserFactory(), UserFactory()
    account_on(manager)
    keep, unsubscribed, suppressed, moved, deleted, disqualified = contacts(manager, 6)
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.filter(owner=manager)])
    Contact.objects.filter(pk=unsubscribed.pk).update(massmail=False)
    Suppression.objects.create(email=suppressed.email, reason=Suppression.Reason.COMPLAINED)
    Contact.objects.filter(pk=moved.pk).update(owner=rival)
    Contact.objects.filter(pk=disqualified.pk).update(disqualified=True)
    deleted.delete()

    api.activate(mailing)
    send_all()

    assert smtp_server.handler.recipients() == [keep.email]
    assert skipped(mailing) == {
        unsubscribed.email: "host_unsubscribed",
        suppressed.email: "suppressed",
        moved.email: "owner_changed",
        deleted.email: "record_deleted",
        disqualified.email: "not_eligible",
    }
    mailing.refresh_from_db()
    assert mailing.status == "done"


def test_address_on_contact_and_lead_gets_one_email(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    ContactFactory(owner=manager, email="Same@Example.org")
    LeadFactory(owner=manager, email=" Same@EXAMPLE.org ")
    LeadFactory(owner=manager, email="other@example.org")
    mailing = start_mailing(manager, [Contact.objects.filter(owner=manager),
                                      Lead.objects.filter(owner=manager)])
    assert mailing.excluded == {"duplicate": 1}
    send_all()
    assert sorted(smtp_server.handler.recipients()) == ["Same@example.org", "other@example.org"]


def test_creation_counts_exclusions_by_reason(db):
    manager, rival = UserFactory(), UserFactory()
    ContactFactory(owner=manager)
    ContactFactory(owner=rival)
    ContactFactory(owner=manager, email="")
    ContactFactory(owner=manager, email="not an address")
    ContactFactory(owner=manager, massmail=False)
    ContactFactory(owner=manager, disqualified=True)
    gone = ContactFactory(owner=manager)
    Suppression.objects.create(email=gone.email, reason=Suppression.Reason.UNSUBSCRIBED)
    bounced = ContactFactory(owner=manager)
    Suppression.objects.create(email=bounced.email, reason=Suppression.Reason.BOUNCED)

    count, excluded = api.count_recipients(owner=manager, recipients=[Contact.objects.all()])
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.all()])
    expected = {"not_owner": 1, "no_address": 1, "invalid_address": 1, "host_unsubscribed": 1,
                "not_eligible": 1, "unsubscribed": 1, "suppressed": 1}
    assert mailing.excluded == expected
    assert (count, excluded) == (1, expected)
    assert mailing.status == "paused"
    assert mailing.deliveries.count() == 1


def test_skip_already_received(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    first, second = contacts(manager, 2)
    message = MessageFactory(owner=manager)
    start_mailing(manager, [Contact.objects.filter(pk=first.pk)], message=message)
    send_all()
    mailing = start_mailing(manager, message=message, skip_already_received=True)
    assert mailing.excluded == {"already_received": 1}
    assert list(mailing.deliveries.values_list("email", flat=True)) == [second.email]


def test_create_mailing_refuses_another_managers_message(db):
    from django.core.exceptions import PermissionDenied

    manager, rival = UserFactory(), UserFactory()
    with pytest.raises(PermissionDenied):
        api.create_mailing(owner=manager, message=MessageFactory(owner=rival),
                           recipients=[Contact.objects.all()])


def test_large_list_is_streamed_in_chunks(db, monkeypatch, django_assert_max_num_queries):
    """Chunked creation: the number of queries grows with chunks, not with records."""
    from massmail import api as api_module

    monkeypatch.setattr(api_module, "CHUNK_SIZE", 50)
    manager = UserFactory()
    Contact.objects.bulk_create(
        [Contact(first_name=f"P{i}", email=f"p{i}@example.org", owner=manager) for i in range(500)]
    )
    with django_assert_max_num_queries(80):
        mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                     recipients=[Contact.objects.filter(owner=manager)])
    assert mailing.deliveries.count() == 500


def test_an_address_no_email_can_carry_is_excluded_and_stalls_nothing(smtp_server, always_open,
                                                                     account_on):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 25)
    assert not api.count_recipients(owner=manager, recipients=[Contact.objects.filter(
        pk=ContactFactory(owner=manager, email="user@a\u05d0.com").pk)])[0]
    mailing = start_mailing(manager, [Contact.objects.filter(pk__in=[c.pk for c in people])])
    # Written around create_mailing's validation, as an older version could have.
    poison = people[3]
    Contact.objects.filter(pk=poison.pk).update(email="user@a\u05d0.com")
    mailing.deliveries.filter(email=poison.email).update(email="user@a\u05d0.com")
    send_all()
    assert len(smtp_server.messages) == 24
    skipped_row = mailing.deliveries.get(status="skipped")
    assert (skipped_row.skip_reason, skipped_row.email) == ("invalid_address", "user@a\u05d0.com")
    mailing.refresh_from_db()
    assert mailing.status == "done"


def test_address_changed_after_creation_is_skipped(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    kept, changed = contacts(manager, 2)
    mailing = start_mailing(manager)
    Contact.objects.filter(pk=changed.pk).update(email="new-address@example.org")
    send_all()
    assert smtp_server.handler.recipients() == [kept.email]
    assert skipped(mailing) == {changed.email: "address_changed"}


def test_unsubscribe_links_keep_the_script_prefix(smtp_server, always_open, account_on):
    from django.urls import get_script_prefix, set_script_prefix

    manager = UserFactory()
    account_on(manager)
    contacts(manager, 12)  # more than one sending group: built on the helper thread too
    start_mailing(manager)
    previous = get_script_prefix()
    set_script_prefix("/crm/")
    try:
        send_all()
    finally:
        set_script_prefix(previous)
    headers = {m.message["List-Unsubscribe"] for m in smtp_server.messages}
    assert len(headers) == 12
    assert all("/crm/massmail/unsubscribe/" in header for header in headers)
