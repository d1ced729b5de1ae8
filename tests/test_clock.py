"""The suite's clock: every test starts inside working hours, whenever it runs."""

import datetime

import pytest
from django.utils import timezone

from massmail.models import MassmailSettings
from massmail.sending import schedule

from .conftest import working_moment


@pytest.mark.parametrize("start, expected", [
    ("2026-12-05T23:30:00+01:00", "2026-12-01T10:00:00+01:00"),  # Saturday night
    ("2026-12-01T03:00:00+01:00", "2026-11-24T10:00:00+01:00"),  # Tuesday before work
    ("2026-12-02T11:15:00+01:00", "2026-12-02T11:15:00+01:00"),  # Wednesday, open
])
def test_a_start_outside_the_window_moves_to_the_last_tuesday_morning(start, expected):
    moved = working_moment(datetime.datetime.fromisoformat(start))
    assert moved == datetime.datetime.fromisoformat(expected)


def test_every_test_runs_inside_the_default_window():
    assert schedule.window_end(timezone.now(), MassmailSettings()) is not None
