"""Massmail Settings: the form only takes values the engine can use, every field says
what it is for, and a row made invalid before (or behind the form's back) breaks
neither a page nor the engine; the in-process engine loop survives a failing round."""

import datetime
import logging
import re
import threading

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from massmail import api
from massmail.models import Mailing, MassmailSettings
from massmail.sending import runner

from .factories import MailingFactory, SuperuserFactory

CHANGE = "admin:massmail_massmailsettings_change"


def form_data(**changes):
    return {
        "emails_per_day": 250, "use_business_time": "on",
        "business_time_start": "09:00:00", "business_time_end": "17:00:00",
        "business_days": ["0", "1", "2", "3", "4"], "time_zone": "Europe/Berlin",
        "unsubscribe_url": "", "postal_address": "", "company_name": "Analytical Engines Ltd",
        **changes,
    }


@pytest.fixture
def as_superuser(client, db):
    client.force_login(SuperuserFactory())
    MassmailSettings.load()
    return client


def test_page_offers_time_zones_and_weekday_checkboxes(as_superuser):
    page = as_superuser.get(reverse(CHANGE, args=[1])).content.decode()
    assert '<select name="time_zone"' in page
    assert re.search(r'<option value="America/New_York"( selected)?>', page)
    assert page.count('type="checkbox" name="business_days"') == 7


def test_every_field_has_help_text():
    for field in MassmailSettings._meta.get_fields():
        if field.concrete and not field.primary_key:
            assert field.help_text, field.name


@pytest.mark.parametrize(("changes", "field"), [
    ({"time_zone": "Berlin"}, "time_zone"),
    ({"business_days": ["7"]}, "business_days"),
    ({"business_time_end": "08:00:00"}, "business_time_end"),
    ({"business_time_end": "09:00:00"}, "business_time_end"),
    ({"emails_per_day": 0}, "emails_per_day"),
])
def test_form_refuses_values_the_engine_cannot_use(as_superuser, changes, field):
    response = as_superuser.post(reverse(CHANGE, args=[1]), form_data(**changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert MassmailSettings.load().time_zone != "Berlin"


def test_form_saves_weekdays_as_a_sorted_list(as_superuser):
    response = as_superuser.post(reverse(CHANGE, args=[1]),
                                 form_data(business_days=["4", "0", "2"]))
    assert response.status_code == 302
    settings = MassmailSettings.load()
    assert (settings.business_days, settings.time_zone, settings.company_name) == (
        [0, 2, 4], "Europe/Berlin", "Analytical Engines Ltd")


def test_model_validation_refuses_bad_values(db):
    settings = MassmailSettings(time_zone="Berlin", business_days=[1, 7])
    with pytest.raises(ValidationError) as error:
        settings.full_clean()
    assert {"time_zone", "business_days"} <= set(error.value.message_dict)


@pytest.fixture
def broken_row(db):
    """A row saved before the values were checked."""
    MassmailSettings.load()
    MassmailSettings.objects.update(time_zone="Berlin", business_days=[0, 7, "x", True])


def test_an_invalid_row_is_read_as_utc_and_valid_days_with_a_warning(broken_row, caplog):
    with caplog.at_level(logging.WARNING, logger="massmail"):
        settings = MassmailSettings.load()
    assert (settings.time_zone, settings.business_days) == ("UTC", [0])
    assert "Berlin" in caplog.text


def test_an_invalid_row_breaks_no_page_and_not_the_engine(broken_row, as_superuser):
    mailing = MailingFactory(status=Mailing.Status.ACTIVE, start_at=None)
    for url in (reverse(CHANGE, args=[1]), reverse("admin:massmail_mailing_changelist"),
                reverse("admin:massmail_mailing_change", args=[mailing.pk])):
        assert as_superuser.get(url).status_code == 200, url
    assert api.why_not_sending(mailing)  # the engine's own check reads the settings
    runner.run(once=True)


def test_forever_loop_survives_a_failing_round(db, monkeypatch, caplog):
    rounds = []
    stop = threading.Event()

    def flaky_round(on_batch):
        rounds.append(datetime.datetime.now())
        if len(rounds) == 1:
            raise RuntimeError("database went away")
        stop.set()
        return False

    monkeypatch.setattr(runner, "run_round", flaky_round)
    with caplog.at_level(logging.ERROR, logger="massmail"):
        runner.run(forever=True, interval=0.01, stop=stop)
    assert len(rounds) == 2
    assert "database went away" in caplog.text


def test_other_modes_raise_a_failing_round(db, monkeypatch):
    def failing_round(on_batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "run_round", failing_round)
    with pytest.raises(RuntimeError):
        runner.run(once=True)
