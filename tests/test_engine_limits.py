"""An account's daily, hourly and per-minute limits hold over several ticks, across
mailings."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from massmail import api

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_daily_limit_over_several_ticks_and_mailings(smtp_server, always_open, account_on):
    always_open.emails_per_day = 5
    always_open.save()
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 8)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        first = start_mailing(manager)
        send_all()
        assert len(smtp_server.messages) == 5
        assert any("reached its limits" in r for r in api.why_not_sending(first))
        # A second mailing through the same account gets nothing more today.
        contacts(manager, 2)
        start_mailing(manager)
        traveller.shift(datetime.timedelta(hours=23))
        send_all()
        assert len(smtp_server.messages) == 5
        traveller.shift(datetime.timedelta(hours=1, seconds=1))
        send_all()
    assert len(smtp_server.messages) == 10


def test_account_daily_limit_overrides_the_setting(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager, daily_limit=2)
    contacts(manager, 4)
    start_mailing(manager)
    send_all()
    assert len(smtp_server.messages) == 2


@pytest.mark.parametrize("field, window", [("hourly_limit", datetime.timedelta(hours=1)),
                                           ("minute_limit", datetime.timedelta(minutes=1))])
def test_hourly_and_minute_limits(smtp_server, always_open, account_on, field, window):
    manager = UserFactory()
    account_on(manager, **{field: 3})
    contacts(manager, 7)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        start_mailing(manager)
        sent = []
        for _ in range(3):
            send_all()
            sent.append(len(smtp_server.messages))
            traveller.shift(window + datetime.timedelta(seconds=1))
    assert sent == [3, 6, 7]
