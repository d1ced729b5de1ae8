"""The report pages in the admin: reached from the mailing list and change page, owner
isolation of the report, the overview and the exports (another manager gets 404),
superusers see every manager, and the "clicked (human)" delivery filter."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from massmail.models import Click, Delivery, TrackedLink

from .conftest import make_manager, with_every_permission
from .factories import DeliveryFactory, MailingFactory, SuperuserFactory, UserFactory

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("admin:massmail_mailing_overview")
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


def report(mailing):
    return reverse("admin:massmail_mailing_report", args=[mailing.pk])


def export(mailing, file_format):
    return reverse("admin:massmail_mailing_export", args=[mailing.pk, file_format])


def sent(mailing, count, **fields):
    return [DeliveryFactory(mailing=mailing, status=Delivery.Status.SENT, sent_at=mailing.created_at,
                            **fields) for _ in range(count)]


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def mailings(anna, ben, clock):
    """Anna's mailings 10 and 60 days ago, and Ben's of 5 days ago."""
    clock.move_to(NOW - datetime.timedelta(days=60))
    old = MailingFactory(owner=anna, name="Spring")
    sent(old, 4, replied_at=NOW)
    clock.move_to(NOW - datetime.timedelta(days=10))
    recent = MailingFactory(owner=anna, name="Summer")
    sent(recent, 3)
    sent(recent, 1, bounce=Delivery.Bounce.HARD)
    clock.move_to(NOW - datetime.timedelta(days=5))
    bens = MailingFactory(owner=ben, name="Ben's news")
    sent(bens, 2)
    clock.move_to(NOW)
    return old, recent, bens


def test_the_report_is_linked_from_the_mailing_list_and_change_page(as_anna, mailings):
    _old, recent, _bens = mailings
    listing = as_anna.get(reverse("admin:massmail_mailing_changelist")).content.decode()
    assert f'href="{report(recent)}"' in listing
    assert f'href="{OVERVIEW}"' in listing
    change = as_anna.get(reverse("admin:massmail_mailing_change", args=[recent.pk]))
    assert f'href="{report(recent)}"' in change.content.decode()


def test_another_manager_gets_404_for_report_and_exports(client, anna, mailings):
    _old, recent, bens = mailings
    client.force_login(with_every_permission(make_manager("carl")))
    for url in (report(recent), export(recent, "csv"), export(recent, "xlsx"), report(bens)):
        assert client.get(url).status_code == 404, url
    client.force_login(anna)
    assert client.get(report(bens)).status_code == 404
    assert client.get(export(bens, "csv")).status_code == 404


def test_the_overview_shows_only_the_managers_own_mailings(as_anna, mailings):
    old, recent, bens = mailings
    response = as_anna.get(OVERVIEW)
    assert response.status_code == 200
    shown = [row[0] for row in response.context["rows"]]
    assert shown == [recent]  # the last 30 days
    assert [row[0] for row in as_anna.get(OVERVIEW + "?days=90").context["rows"]] == [old, recent]
    html = response.content.decode()
    assert "Ben" not in html and "<svg" in html and "<table" in html
    # Totals side by side: 30 days (Summer) and 90 days (Spring and Summer).
    (label, periods), = response.context["totals"]
    (days30, sums30, rates30), (days90, sums90, rates90) = periods
    assert (days30, sums30["sent"], sums30["delivered"]) == (30, 4, 3)
    assert (days90, sums90["sent"], sums90["replied"]) == (90, 8, 4)
    assert rates30[0] == pytest.approx(75.0)  # delivered % of sent
    assert rates90[3] == pytest.approx(4 * 100 / 7)  # replied % of delivered


def test_superusers_see_every_manager_on_the_overview(client, mailings):
    old, recent, bens = mailings
    client.force_login(SuperuserFactory())
    response = client.get(OVERVIEW + "?days=90")
    assert [row[0] for row in response.context["rows"]] == [old, recent, bens]
    groups = [label for label, _periods in response.context["totals"]]
    assert groups[0] == "All mailings" and {"anna", "ben"} <= set(groups)
    assert client.get(report(bens)).status_code == 200
    assert client.get(export(bens, "csv")).status_code == 200


def test_the_overview_costs_a_constant_number_of_queries(as_anna, anna, mailings):
    with CaptureQueriesContext(connection) as queries:
        as_anna.get(OVERVIEW + "?days=90")
    first = len(queries)
    for _ in range(5):
        sent(MailingFactory(owner=anna), 2)
    with CaptureQueriesContext(connection) as queries:
        response = as_anna.get(OVERVIEW + "?days=90")
    assert len(response.context["rows"]) == 7
    assert len(queries) == first


def test_staff_without_mailing_permissions_cannot_see_the_overview(client):
    client.force_login(UserFactory(username="intern"))  # staff, no permission at all
    assert client.get(OVERVIEW).status_code == 403


def test_delivery_list_filters_clicked_by_a_person(as_anna, anna):
    mailing = MailingFactory(owner=anna)
    person, scanned, idle = sent(mailing, 3)
    link = TrackedLink.objects.create(message=mailing.message, version="v", position=0,
                                      url="https://example.com/")
    Click.objects.create(delivery=person, link=link, human=True, clicked_at=timezone.now())
    Click.objects.create(delivery=scanned, link=link, human=False, reason=Click.Reason.CRAWLER)
    response = as_anna.get(reverse("admin:massmail_delivery_changelist") + "?outcome=clicked")
    assert list(response.context["cl"].result_list) == [person]
    assert "Clicked (human)" in response.content.decode()
