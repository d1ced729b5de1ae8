"""Fair sharing: batches are bounded, and every (mailing, account) pair with work gets a
batch before any pair gets a second one, so a huge mailing never holds a small one back
by more than one batch."""

import pytest
from django.conf import settings
from django.test import override_settings

from massmail.sending.runner import run

from .engine import contacts, start_mailing
from .factories import UserFactory

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
