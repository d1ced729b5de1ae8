"""Feedback counts per mailing: hard and soft bounces, complaints, auto-replies and
replies, for a page of mailings in one query."""

from django.db.models import Count, Q

from ..models import Delivery

OUTCOMES = {
    "hard": Q(bounce=Delivery.Bounce.HARD),
    "soft": Q(bounce=Delivery.Bounce.SOFT),
    "complained": Q(complained_at__isnull=False),
    "auto_replied": Q(auto_replied_at__isnull=False),
    "replied": Q(replied_at__isnull=False),
}


def counts_by_mailing(ids):
    """{mailing id: {outcome: count}} for every id, zeros included."""
    ids = list(ids)
    result = {pk: dict.fromkeys(OUTCOMES, 0) for pk in ids}
    rows = (Delivery.objects.filter(mailing_id__in=ids).order_by().values("mailing_id")
            .annotate(**{name: Count("pk", filter=q) for name, q in OUTCOMES.items()}))
    for row in rows:
        result[row.pop("mailing_id")] = row
    return result
