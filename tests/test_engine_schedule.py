"""Working hours: nothing outside the window or on non-business days, and a long batch
stops at the window's end."""

import datetime
import zoneinfo

import pytest
import time_machine

from massmail import api
from massmail.models import Delivery, MassmailSettings

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# 2026-11-23 is a Monday, 2026-11-27 a Friday.
MONDAY_10 = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def working_hours(db):
    settings = MassmailSettings.load()
    settings.use_business_time = True
    settings.business_time_start = datetime.time(8, 30)
    settings.business_time_end = datetime.time(17, 30)
    settings.business_days = [0, 1, 2, 3]
    settings.time_zone = "Europe/Berlin"
    settings.save()
    return settings


@pytest.mark.parametrize("moment, reason", [
    (datetime.datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN), "Outside working hours until Mon 23 Nov, 08:30"),
    (datetime.datetime(2026, 11, 23, 17, 30, tzinfo=BERLIN), "Outside working hours until Tue 24 Nov, 08:30"),
    (datetime.datetime(2026, 11, 27, 10, 0, tzinfo=BERLIN), "Outside working hours until Mon 30 Nov, 08:30"),
])
def test_nothing_sent_outside_the_window(smtp_server, working_hours, account_on, moment, reason):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 3)
    with time_machine.travel(moment, tick=False):
        mailing = start_mailing(manager)
        send_all()
        assert smtp_server.messages == []
        assert reason in api.why_not_sending(mailing)[0]
    with time_machine.travel(MONDAY_10, tick=False):
        send_all()
    assert len(smtp_server.messages) == 3


def test_window_follows_the_configured_time_zone(smtp_server, working_hours, account_on):
    working_hours.time_zone = "America/New_York"
    working_hours.save()
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 1)
    # 10:00 in Berlin is 04:00 in New York: closed there.
    with time_machine.travel(MONDAY_10, tick=False):
        start_mailing(manager)
        send_all()
    assert smtp_server.messages == []


def test_long_batch_stops_at_the_window_end(smtp_server, working_hours, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 10)
    with time_machine.travel(datetime.datetime(2026, 11, 23, 17, 26, tzinfo=BERLIN),
                             tick=False) as traveller:
        # Each accepted email takes the server one minute: four fit before 17:30.
        smtp_server.handler.on_message = lambda: traveller.shift(datetime.timedelta(minutes=1))
        mailing = start_mailing(manager)
        send_all()
    assert len(smtp_server.messages) == 4
    assert mailing.deliveries.filter(status=Delivery.Status.PENDING).count() == 6
    assert not mailing.deliveries.filter(status__in=["claimed", "sending", "unknown"]).exists()


def test_start_at_in_the_future_waits(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 1)
    with time_machine.travel(MONDAY_10, tick=False):
        mailing = start_mailing(manager)
        mailing.start_at = MONDAY_10 + datetime.timedelta(hours=1)
        mailing.save()
        send_all()
        assert smtp_server.messages == []
        assert "starts at" in api.why_not_sending(mailing)[0]
    with time_machine.travel(MONDAY_10 + datetime.timedelta(hours=2), tick=False):
        send_all()
    assert len(smtp_server.messages) == 1
