"""A stopped worker's rows come back within about a lease, and "why not sending" says
what is going on meanwhile."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from massmail import api
from massmail.conf import conf
from massmail.models import Delivery, EmailAccount
from massmail.sending import states
from massmail.sending.dispatch import dispatch

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_held_rows_are_explained_then_taken_back_after_the_lease(smtp_server, always_open,
                                                                  account_on):
    manager = UserFactory()
    account = account_on(manager)
    contacts(manager, 4)
    mailing = start_mailing(manager)
    now = timezone.now()
    with time_machine.travel(now, tick=False) as traveller:
        # A worker claims two rows, marks one sending, and is killed.
        dispatch(now)
        ids = states.claim(mailing, account, now, _settings(), "killed-worker", size=2)
        Delivery.objects.filter(pk=ids[0]).update(status="sending", attempted_at=now)
        EmailAccount.objects.filter(pk=account.pk).update(
            batch_lease_owner="killed-worker", batch_lease_until=states.lease_until(now),
            batch_started_at=now)
        reasons = " ".join(api.why_not_sending(mailing))
        assert "2 emails are being sent by a worker since" in reasons
        traveller.shift(datetime.timedelta(seconds=conf.LEASE_SECONDS + 1))
        reasons = " ".join(api.why_not_sending(mailing))
        assert "A worker stopped while holding 2 emails" in reasons
        assert "taken back at the next dispatch" in reasons
        send_all()
    statuses = sorted(mailing.deliveries.values_list("status", flat=True))
    assert statuses == ["sent", "sent", "sent", "unknown"]
    assert len(smtp_server.messages) == 3


def _settings():
    from massmail.models import MassmailSettings

    return MassmailSettings.load()
