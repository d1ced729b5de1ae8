"""Every figure of the funnel against hand-built deliveries, rates over delivered, and
the delivery list filtered to each figure showing exactly the rows counted."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from massmail.models import Click, Delivery, Suppression, TrackedLink
from massmail.reports.funnel import OUTCOMES, counts_by_mailing, counts_of, funnel, rates

from .factories import DeliveryFactory, MailingFactory, SuppressionFactory

pytestmark = pytest.mark.django_db

S = Delivery.Status
NOW = timezone.now()


def sent(mailing, **fields):
    return DeliveryFactory(mailing=mailing, status=S.SENT, sent_at=NOW, **fields)


@pytest.fixture
def built(anna):
    """A mailing with one delivery per interesting outcome, and one of another mailing."""
    mailing = MailingFactory(owner=anna, excluded={"duplicate": 2, "not_owner": 1})
    link = TrackedLink.objects.create(message=mailing.message, version="v", position=0,
                                      url="https://example.com/")
    rows = {
        "plain": sent(mailing),
        "hard": sent(mailing, bounce=Delivery.Bounce.HARD, bounced_at=NOW),
        "soft": sent(mailing, bounce=Delivery.Bounce.SOFT, bounced_at=NOW),
        "replied": sent(mailing, replied_at=NOW),
        "auto": sent(mailing, auto_replied_at=NOW),
        "complained": sent(mailing, complained_at=NOW),
        "unsubscribed": sent(mailing),
        "clicked": sent(mailing),
        "machine_only": sent(mailing),
        "failed_5xx": DeliveryFactory(mailing=mailing, status=S.FAILED, smtp_code=550),
        "failed_4xx": DeliveryFactory(mailing=mailing, status=S.FAILED, smtp_code=452),
        "failed_none": DeliveryFactory(mailing=mailing, status=S.FAILED, smtp_code=None),
        "unknown": DeliveryFactory(mailing=mailing, status=S.UNKNOWN),
        "pending": DeliveryFactory(mailing=mailing, status=S.PENDING),
        "skipped_unsub": DeliveryFactory(mailing=mailing, status=S.SKIPPED,
                                         skip_reason=Delivery.SkipReason.UNSUBSCRIBED),
        "skipped_deleted": DeliveryFactory(mailing=mailing, status=S.SKIPPED,
                                           skip_reason=Delivery.SkipReason.RECORD_DELETED),
    }
    Suppression.objects.create(email=rows["unsubscribed"].email, mailing=mailing,
                               reason=Suppression.Reason.UNSUBSCRIBED)
    # Unsubscribed through another mailing, or suppressed for another reason: not counted.
    SuppressionFactory(email=rows["plain"].email, reason=Suppression.Reason.UNSUBSCRIBED)
    SuppressionFactory(email=rows["soft"].email, mailing=mailing, reason=Suppression.Reason.MANUAL)
    Click.objects.create(delivery=rows["clicked"], link=link, human=True)
    Click.objects.create(delivery=rows["clicked"], link=link, human=False,
                         reason=Click.Reason.TOO_SOON)
    Click.objects.create(delivery=rows["machine_only"], link=link, human=False,
                         reason=Click.Reason.CRAWLER)
    other = sent(MailingFactory(owner=anna), replied_at=NOW)
    Click.objects.create(delivery=other, link=link, human=True)
    return mailing, rows


EXPECTED = {
    "total": 16, "sent": 9, "delivered": 8, "hard_bounced": 1, "soft_bounced": 1,
    "failed": 3, "failed_permanent": 1, "failed_temporary": 1, "failed_other": 1,
    "unknown": 1, "waiting": 1, "skipped": 2, "skipped_unsubscribed": 1,
    "skipped_record_deleted": 1, "unsubscribed": 1, "complained": 1, "replied": 1,
    "auto_replied": 1, "clicked": 1,
}


def test_every_figure_counts_the_hand_built_rows(built):
    mailing, _rows = built
    counts = counts_of(mailing.deliveries.all())
    nonzero = {key: value for key, value in counts.items() if value}
    assert nonzero == EXPECTED


def test_rates_are_over_delivered_and_delivery_rates_over_sent(built):
    mailing, _rows = built
    percent = rates(counts_of(mailing.deliveries.all()))
    assert percent["delivered"] == pytest.approx(8 * 100 / 9)
    assert percent["hard_bounced"] == pytest.approx(100 / 9)
    for key in ("unsubscribed", "complained", "replied", "auto_replied", "clicked"):
        assert percent[key] == pytest.approx(100 / 8), key


def test_rates_without_anything_sent_are_none():
    counts = dict.fromkeys(["total", *OUTCOMES], 0)
    assert set(rates(counts).values()) == {None}


def test_grouped_counts_match_the_single_mailing_counts_in_one_query(built, anna):
    mailing, _rows = built
    others = list(anna.massmail_mailings.exclude(pk=mailing.pk).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        grouped = counts_by_mailing([mailing.pk, *others])
    assert len(queries) == 1
    assert grouped[mailing.pk] == counts_of(mailing.deliveries.all())
    assert grouped[others[0]]["replied"] == grouped[others[0]]["clicked"] == 1


def test_funnel_figures_link_to_the_delivery_list_showing_exactly_those_rows(built, as_anna):
    mailing, _rows = built
    base = reverse("admin:massmail_delivery_changelist")
    figures, counts = funnel(mailing, lambda query: f"{base}?mailing__id__exact={mailing.pk}"
                             + (f"&{query}" if query else ""))
    by_key = {figure.key: figure for figure in figures}
    assert by_key["excluded_duplicate"].count == 2 and by_key["excluded_not_owner"].count == 1
    assert by_key["total"].count == 16
    for key, expected in EXPECTED.items():
        if key == "total":
            continue
        figure = by_key[key]
        assert figure.count == expected, key
        response = as_anna.get(figure.url)
        assert response.status_code == 200, key
        assert response.context["cl"].result_count == expected, key


def test_the_report_page_shows_the_funnel_with_constant_queries(built, as_anna):
    mailing, _rows = built
    url = reverse("admin:massmail_mailing_report", args=[mailing.pk])
    with CaptureQueriesContext(connection) as queries:
        response = as_anna.get(url)
    assert response.status_code == 200
    first = len(queries)
    for _ in range(20):
        sent(mailing, replied_at=NOW + datetime.timedelta(hours=2))
    with CaptureQueriesContext(connection) as queries:
        response = as_anna.get(url)
    assert len(queries) == first
    html = response.content.decode()
    assert 'data-figure="replied"' in html and "<svg" in html
    assert response.context["counts"]["replied"] == 21
