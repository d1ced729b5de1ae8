"""Fair sharing: batches are bounded, and every (mailing, account) pair with work gets a
batch before any pair gets a second one, so a huge mailing never holds a small one back
by more than one batch."""

import datetime
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from example_project.crm.models import Contact
from massmail import api, tasks
from massmail.models import BatchTicket, EmailAccount, Mailing
from massmail.sending import tickets
from massmail.sending.batch import send_batch
from massmail.sending.dispatch import dispatch
from massmail.sending.runner import run

from .engine import contacts, received_by_account, start_mailing
from .factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_small_mailing_finishes_within_one_batch_while_a_big_one_runs(
        smtp_server, always_open, account_on):
    big_owner, small_owner = UserFactory(), UserFactory()
    account_on(big_owner)
    account_on(small_owner)
    contacts(big_owner, 120)
    small_people = contacts(small_owner, 5)
    batches = []
    with override_settings(MASSMAIL={**settings.MASSMAIL, "BATCH_SIZE": 10,
                                     "BATCH_MAX_SECONDS": 0}):
        big = start_mailing(big_owner)
        small = start_mailing(small_owner)
        run(on_batch=lambda mailing_id, account_id, result: batches.append(
            (mailing_id, sum(result.counts.values()))))
    assert [mailing for mailing, _sent in batches[:2]] == [big.pk, small.pk]
    assert batches[1] == (small.pk, 5)  # the small one was done after one batch of the big
    assert all(sent <= 10 for _mailing, sent in batches)
    order = smtp_server.handler.recipients()
    assert max(order.index(person.email) for person in small_people) < 15
    for mailing in (big, small):
        mailing.refresh_from_db()
        assert mailing.status == "done"


def big_and_waiting(account_on):
    """A manager's mailing of 30 routed rows, and another manager's pair queued."""
    big_owner, other_owner = UserFactory(), UserFactory()
    account = account_on(big_owner)
    other_account = account_on(other_owner)
    contacts(big_owner, 30)
    contacts(other_owner, 1)
    big = start_mailing(big_owner)
    other = start_mailing(other_owner)
    dispatch()  # routes both
    return big, account, other, other_account


@pytest.mark.parametrize("continuation", [False, True])
def test_a_running_batch_makes_way_for_a_waiting_pair_but_not_for_a_continuation(
        smtp_server, always_open, account_on, continuation):
    """The broker serves batches in order: a pair just queued would otherwise wait a
    whole quantum of every running batch. A continuation is a running pair's own turn."""
    big, account, other, other_account = big_and_waiting(account_on)
    tickets.take(other.pk, other_account.pk, timezone.now(), continuation=continuation)
    with override_settings(MASSMAIL={**settings.MASSMAIL, "BATCH_SIZE": 10, "SENDING_GROUP": 2,
                                     "BATCH_MAX_SECONDS": 600}):
        result = send_batch(big.pk, account.pk)
    sent = big.deliveries.filter(status="sent").count()
    assert (sent, result.more) == ((30, False) if continuation else (2, True))
    assert big.deliveries.filter(status="claimed").count() == 0  # the rest went back


def test_a_pair_waiting_too_long_is_not_made_way_for(smtp_server, always_open, account_on):
    """A first batch the broker lost keeps its ticket: after NEWCOMER_PATIENCE_SECONDS
    running batches stop making way for it and send whole quanta again."""
    big, account, other, other_account = big_and_waiting(account_on)
    lost = timezone.now() - datetime.timedelta(seconds=tickets.NEWCOMER_PATIENCE_SECONDS + 1)
    tickets.take(other.pk, other_account.pk, lost)
    with override_settings(MASSMAIL={**settings.MASSMAIL, "BATCH_SIZE": 10, "SENDING_GROUP": 2,
                                     "BATCH_MAX_SECONDS": 600}):
        result = send_batch(big.pk, account.pk)
    assert (big.deliveries.filter(status="sent").count(), result.more) == (30, False)


def queued_tasks(monkeypatch):
    """([(mailing id, account id)] of the batches queued, [options] of the dispatches)."""
    queued, dispatches = [], []
    monkeypatch.setattr(tasks.send_batch, "apply_async", lambda args, queue: queued.append(args))
    monkeypatch.setattr(tasks.dispatch, "apply_async", lambda **options: dispatches.append(options))
    return queued, dispatches


@contextmanager
def activation_queues(capture_on_commit):
    with override_settings(MASSMAIL={**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": True}), \
            capture_on_commit(execute=True):
        yield


def test_an_activated_mailing_starts_at_once_without_waiting_for_a_dispatch(
        smtp_server, always_open, account_on, monkeypatch, django_capture_on_commit_callbacks):
    """Activation queues one first batch per usable account; the first batch routes the
    rows itself, so the first emails leave without a dispatch served behind other work."""
    manager = UserFactory()
    accounts = [account_on(manager), account_on(manager)]
    people = contacts(manager, 6)
    queued, dispatches = queued_tasks(monkeypatch)
    with activation_queues(django_capture_on_commit_callbacks):
        mailing = start_mailing(manager)
    assert sorted(queued) == [(mailing.pk, account.pk) for account in accounts]
    assert not BatchTicket.objects.filter(continuation=True).exists()
    assert not dispatches  # no account is held by a batch: nothing to look at again
    for args in queued:
        send_batch(*args)
    assert sorted(smtp_server.handler.recipients()) == sorted(p.email for p in people)
    assert {len(emails) for emails in received_by_account(smtp_server).values()} == {3}


@pytest.mark.parametrize("case", ["starts later", "account held", "deleted"])
def test_activation_queues_only_batches_that_can_start(
        case, smtp_server, always_open, account_on, monkeypatch,
        django_capture_on_commit_callbacks):
    """A mailing that may not send yet queues nothing (the beat's dispatch starts it); an
    account a batch holds gets a dispatch to look at it again instead of a batch that
    would find it locked; a mailing deleted before the queueing ran queues nothing."""
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 2)
    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.filter(owner=manager)])
    now = timezone.now()
    if case == "starts later":
        Mailing.objects.filter(pk=mailing.pk).update(start_at=now + datetime.timedelta(hours=1))
        mailing.refresh_from_db()
    elif case == "account held":
        EmailAccount.objects.filter(pk=account.pk).update(
            batch_lease_owner="another batch", batch_lease_until=now + datetime.timedelta(seconds=60))
    queued, dispatches = queued_tasks(monkeypatch)
    with activation_queues(django_capture_on_commit_callbacks):
        api.activate(mailing)
        if case == "deleted":
            Mailing.objects.filter(pk=mailing.pk).delete()
    assert queued == []
    assert len(dispatches) == (1 if case == "account held" else 0)
    assert not BatchTicket.objects.exists()
