"""The funnel of a mailing: what happened to its recipients, in a few aggregate queries.

Every figure is a named condition on Delivery rows (``OUTCOMES``). The same conditions
count the figures (one ``Count(filter=...)`` each, all in one query, per mailing or
grouped over many mailings) and filter the delivery list (the "outcome" filter of the
delivery admin), so a figure and the rows behind it can never disagree.

"Delivered" is sent minus hard bounces, once mailbox feedback has reported them (until
then it equals sent). Rates of what recipients did (unsubscribed, complained, replied,
auto-replied, clicked) are over delivered; delivered and bounce rates are over sent.
"Clicked" counts people with at least one click judged human (tracking/verdicts.py).
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from ..audience import Exclusion
from ..models import Click, Delivery, Suppression
from ..sending.states import OPEN as OPEN_STATUSES

Status = Delivery.Status


def _unsubscribed():
    return Exists(Suppression.objects.filter(
        reason=Suppression.Reason.UNSUBSCRIBED, mailing_id=OuterRef("mailing_id"),
        email=OuterRef("email")))


def _clicked():
    return Exists(Click.objects.filter(delivery_id=OuterRef("pk"), human=True))


def _outcomes():
    """{key: (label, condition on Delivery)}, in the order the funnel shows them."""
    failed = Q(status=Status.FAILED)
    outcomes = {
        "sent": (_("sent"), Q(status=Status.SENT)),
        "delivered": (_("delivered"), Q(status=Status.SENT) & ~Q(bounce=Delivery.Bounce.HARD)),
        "hard_bounced": (_("bounced (hard)"), Q(status=Status.SENT, bounce=Delivery.Bounce.HARD)),
        "soft_bounced": (_("bounced (soft)"), Q(status=Status.SENT, bounce=Delivery.Bounce.SOFT)),
        "failed": (_("failed"), failed),
        "failed_permanent": (_("refused by the server (5xx)"), failed & Q(smtp_code__gte=500)),
        "failed_temporary": (_("temporary failures, given up (4xx)"),
                             failed & Q(smtp_code__gte=400, smtp_code__lt=500)),
        "failed_other": (_("failed without a server reply"),
                         failed & (Q(smtp_code__isnull=True) | Q(smtp_code__lt=400))),
        "unknown": (_("unknown outcome"), Q(status=Status.UNKNOWN)),
        "waiting": (_("still waiting or being sent"), Q(status__in=OPEN_STATUSES)),
        "skipped": (_("skipped"), Q(status=Status.SKIPPED)),
    }
    for value, label in Delivery.SkipReason.choices:
        outcomes[f"skipped_{value}"] = (label, Q(status=Status.SKIPPED, skip_reason=value))
    outcomes.update({
        "unsubscribed": (_("unsubscribed after this mailing"), _unsubscribed()),
        "complained": (_("complained (spam reports)"), Q(complained_at__isnull=False)),
        "replied": (_("replied"), Q(replied_at__isnull=False)),
        "auto_replied": (_("auto-replied"), Q(auto_replied_at__isnull=False)),
        "clicked": (_("clicked (human)"), _clicked()),
    })
    return outcomes


OUTCOMES = _outcomes()
# The figures whose rate is over sent; the rest of the reactions are over delivered.
OVER_SENT = ("delivered", "hard_bounced", "soft_bounced")
OVER_DELIVERED = ("unsubscribed", "complained", "replied", "auto_replied", "clicked")
# Figure keys shown one level in, under the figure before them.
NESTED = {"delivered", "hard_bounced", "soft_bounced", "failed_permanent", "failed_temporary",
          "failed_other"} | {f"skipped_{value}" for value in Delivery.SkipReason.values}


def counts_of(deliveries):
    """{"total", each OUTCOMES key: count} of a Delivery queryset, in one query."""
    return deliveries.order_by().aggregate(total=Count("id"), **_aggregates())


def counts_by_mailing(mailing_ids):
    """{mailing id: counts_of its deliveries} for many mailings in one grouped query."""
    rows = (Delivery.objects.filter(mailing_id__in=mailing_ids).order_by().values("mailing_id")
            .annotate(total=Count("id"), **_aggregates()))
    empty = dict.fromkeys(["total", *OUTCOMES], 0)
    counts = {pk: dict(empty) for pk in mailing_ids}
    for row in rows:
        counts[row.pop("mailing_id")] = row
    return counts


def _aggregates():
    return {key: Count("id", filter=condition) for key, (_label, condition) in OUTCOMES.items()}


def rate(part, whole):
    """``part`` in percent of ``whole``, or None when there is nothing to divide by."""
    return part * 100 / whole if whole else None


def rates(counts):
    """{key: percent or None} of the figures that have a rate."""
    delivered = counts["delivered"]
    result = {key: rate(counts[key], counts["sent"]) for key in OVER_SENT}
    result.update({key: rate(counts[key], delivered) for key in OVER_DELIVERED})
    return result


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    count: int
    rate: float | None  # percent; see rates()
    url: str | None  # the delivery list showing exactly these rows
    nested: bool = False


def funnel(mailing, delivery_list_url):
    """(figures in order, counts) of ``mailing``'s report. ``delivery_list_url(query)``
    turns a query string into the URL of the delivery list filtered to this mailing and
    query. Figures that are zero and say nothing (a skip reason that never happened) are
    left out; the main steps are always shown."""
    counts = counts_of(mailing.deliveries.all())
    percent = rates(counts)
    figures = [Figure("total", capfirst(_("recipients at creation")), counts["total"], None,
                      delivery_list_url(""))]
    for reason, number in sorted(mailing.excluded.items(), key=lambda item: -item[1]):
        label = _("left out at creation: %(reason)s") % {
            "reason": Exclusion.LABELS.get(reason, reason)}
        figures.append(Figure(f"excluded_{reason}", capfirst(label), number, None, None,
                              nested=True))
    always = {"sent", "delivered", "failed", "skipped", "unsubscribed", "replied", "clicked"}
    for key, (label, _condition) in OUTCOMES.items():
        if counts[key] or key in always:
            figures.append(Figure(key, capfirst(label), counts[key], percent.get(key),
                                  delivery_list_url(f"outcome={key}"), nested=key in NESTED))
    return figures, counts
