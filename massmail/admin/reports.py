"""Report pages in the admin: one per mailing, an overview of a manager's recent
mailings, and the deliveries as CSV and XLSX.

``ReportsMixin`` adds them to the mailing admin (its URLs, a "Report" column on the
list, a button on the change page, an "Overview" button on the list), so mailings.py
only names the mixin. Every view is owner-checked through the mailing admin's own
queryset: another manager's mailing is a 404, as if it did not exist; superusers see
every mailing and, on the overview, every manager.

Each page costs a constant number of queries: one aggregate for the funnel (or one
grouped over all the overview's mailings), one for the timeline of sends, one for that
of clicks, one for the links.
"""

import datetime
from collections import defaultdict

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import Click, Delivery, TrackedLink
from ..reports import exports
from ..reports.charts import Chart, Series
from ..reports.funnel import OUTCOMES, counts_by_mailing, funnel, rates

PERIODS = (30, 90)
# Hourly buckets up to three days, daily ones beyond.
MAX_HOURLY = 72
# Mailings drawn in the overview chart (the latest ones); the table lists them all.
CHART_MAILINGS = 24
OVERVIEW_RATES = ("delivered", "hard_bounced", "unsubscribed", "replied", "clicked")
# Outcomes offered in the delivery list's sidebar; the funnel links to every outcome.
SIDEBAR_OUTCOMES = ("delivered", "hard_bounced", "soft_bounced", "failed_permanent",
                    "failed_temporary", "failed_other", "unknown", "unsubscribed", "complained",
                    "replied", "auto_replied", "clicked")
EXPORTS = {"csv": exports.csv_response, "xlsx": exports.xlsx_response}


class OutcomeFilter(admin.SimpleListFilter):
    """The delivery list filtered to one funnel figure (``?outcome=clicked``...)."""

    title = gettext_lazy("outcome")
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [(key, capfirst(OUTCOMES[key][0])) for key in SIDEBAR_OUTCOMES]

    def queryset(self, request, queryset):
        if self.value() in OUTCOMES:
            return queryset.filter(OUTCOMES[self.value()][1])
        return queryset


class ReportsMixin:
    """For the mailing admin (before OwnedAdmin in its bases)."""

    def _report_url_name(self, view):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("overview/", view(self.overview_view), name=self._report_url_name("overview")),
            path("<path:object_id>/report/", view(self.report_view),
                 name=self._report_url_name("report")),
            path("<path:object_id>/export/<str:file_format>/", view(self.export_view),
                 name=self._report_url_name("export")),
            *super().get_urls(),
        ]

    def _url(self, view, *args):
        return reverse(f"{self.admin_site.name}:{self._report_url_name(view)}", args=args)

    def get_list_display(self, request):
        return [*super().get_list_display(request), "report_link"]

    @admin.display(description=gettext_lazy("report"))
    def report_link(self, obj):
        return format_html('<a href="{}">{}</a>', self._url("report", obj.pk), _("Report"))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["massmail_report_url"] = self._url("report", obj.pk)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"massmail_overview_url": self._url("overview"), **(extra_context or {})})

    def _page(self, request, template, title, **context):
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, {
            **self.admin_site.each_context(request), "opts": self.opts, "title": title,
            **context})

    def report_view(self, request, object_id):
        mailing = self.owned_object(request, object_id)
        deliveries = reverse(f"{self.admin_site.name}:{Delivery._meta.app_label}_"
                             f"{Delivery._meta.model_name}_changelist")

        def delivery_list_url(query):
            return f"{deliveries}?mailing__id__exact={mailing.pk}" + (f"&{query}" if query else "")

        figures, counts = funnel(mailing, delivery_list_url)
        tracking = mailing.message.track_clicks or Click.objects.filter(
            delivery__mailing=mailing).exists()
        return self._page(
            request, "massmail/admin/mailing_report.html",
            _("Report of “%(mailing)s”") % {"mailing": mailing},
            mailing=mailing, figures=figures, counts=counts, tracking=tracking,
            chart=timeline_chart(mailing, tracking),
            links=link_table(mailing) if tracking else None,
            export_csv_url=self._url("export", mailing.pk, "csv"),
            export_xlsx_url=self._url("export", mailing.pk, "xlsx"),
            overview_url=self._url("overview"),
            change_url=reverse(f"{self.admin_site.name}:{self._report_url_name('change')}",
                               args=[mailing.pk]),
        )

    def export_view(self, request, object_id, file_format):
        mailing = self.owned_object(request, object_id)
        if file_format not in EXPORTS:
            raise Http404
        return EXPORTS[file_format](mailing)

    def overview_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        days = request.GET.get("days")
        days = int(days) if days in {str(period) for period in PERIODS} else PERIODS[0]
        now = timezone.now()
        mailings = list(self.get_queryset(request).filter(
            created_at__gte=now - datetime.timedelta(days=max(PERIODS)))
            .select_related("owner").order_by("created_at"))
        counts = counts_by_mailing([mailing.pk for mailing in mailings])
        shown = [m for m in mailings if m.created_at >= now - datetime.timedelta(days=days)]
        rows = [(m, counts[m.pk], _rates_in_order(counts[m.pk]), self._url("report", m.pk))
                for m in shown]
        return self._page(
            request, "massmail/admin/mailing_overview.html", _("Mailing overview"),
            days=days, periods=PERIODS, rows=rows,
            totals=period_totals(mailings, counts, now, request.user.is_superuser),
            chart=overview_chart(shown[-CHART_MAILINGS:], counts),
            show_owner=request.user.is_superuser,
            changelist_url=reverse(
                f"{self.admin_site.name}:{self._report_url_name('changelist')}"),
        )


def period_totals(mailings, counts, now, per_owner):
    """[(label, {period: (counts, rates)})]: all mailings shown, and with ``per_owner``
    one row per manager too, each summed over the last 30 and 90 days."""
    groups = defaultdict(lambda: {days: defaultdict(int) for days in PERIODS})
    for mailing in mailings:
        keys = [_("All mailings")]
        if per_owner:
            keys.append(mailing.owner.get_full_name() or mailing.owner.get_username())
        for days in PERIODS:
            if mailing.created_at < now - datetime.timedelta(days=days):
                continue
            for key in keys:
                for name, number in counts[mailing.pk].items():
                    groups[key][days][name] += number
    return [(label, [(days, sums, _rates_in_order({**dict.fromkeys(OUTCOMES, 0), **sums}))
                     for days, sums in periods.items()])
            for label, periods in groups.items()]


def _rates_in_order(counts):
    """The OVERVIEW_RATES of ``counts``, in that order (None where nothing was sent)."""
    percent = rates(counts)
    return [percent[key] for key in OVERVIEW_RATES]


def _buckets(mailing):
    """({hour: sends}, {hour: (human clicks, machine clicks)}) of ``mailing``."""
    sends = dict(Delivery.objects.filter(mailing=mailing, sent_at__isnull=False).order_by()
                 .annotate(hour=TruncHour("sent_at")).values("hour")
                 .annotate(n=Count("id")).values_list("hour", "n"))
    clicks = {row["hour"]: (row["by_people"], row["by_machines"]) for row in (
        Click.objects.filter(delivery__mailing=mailing, link__honeypot=False).order_by()
        .annotate(hour=TruncHour("clicked_at")).values("hour")
        .annotate(by_people=Count("id", filter=Q(human=True)),
                  by_machines=Count("id", filter=Q(human=False))))}
    return sends, clicks


def timeline_chart(mailing, tracking):
    """Sends per hour (per day beyond three days) and, with tracking, clicks over them."""
    sends, clicks = _buckets(mailing)
    if not sends and not clicks:
        return None
    hours = [timezone.localtime(hour) for hour in (*sends, *clicks)]
    first, last = min(hours), max(hours)
    step = datetime.timedelta(hours=1)
    daily = last - first > datetime.timedelta(hours=MAX_HOURLY)
    slots = []
    moment = first
    while moment <= last:
        slots.append(moment)
        moment += step
    label = (lambda t: date_format(t, "SHORT_DATE_FORMAT")) if daily else (
        lambda t: date_format(t, "j M H:00"))
    keys = list(dict.fromkeys(label(t) for t in slots))
    totals = {key: [0, 0, 0] for key in keys}
    for hour, number in sends.items():
        totals[label(timezone.localtime(hour))][0] += number
    for hour, (human, machine) in clicks.items():
        totals[label(timezone.localtime(hour))][1] += human
        totals[label(timezone.localtime(hour))][2] += machine
    series = [Series(_("emails sent"), [totals[k][0] for k in keys])]
    if tracking:
        series += [Series(_("human clicks"), [totals[k][1] for k in keys], line=True),
                   Series(_("machine clicks"), [totals[k][2] for k in keys], line=True)]
    unit = _("per day") if daily else _("per hour")
    return Chart(
        title=_("Emails sent and clicks %(unit)s") % {"unit": unit} if tracking
        else _("Emails sent %(unit)s") % {"unit": unit},
        description=_("Bars: emails sent %(unit)s. Lines: clicks judged human and machine.")
        % {"unit": unit} if tracking else _("Bars: emails sent %(unit)s.") % {"unit": unit},
        categories=keys, series=series)


def link_table(mailing):
    """Per tracked URL of the mailing's message: human clicks, people, machine clicks."""
    of_mailing = Q(clicks__delivery__mailing=mailing)
    return list(
        TrackedLink.objects.filter(message_id=mailing.message_id).order_by()
        .values("url", "honeypot")
        .annotate(human=Count("clicks", filter=of_mailing & Q(clicks__human=True)),
                  people=Count("clicks__delivery", distinct=True,
                               filter=of_mailing & Q(clicks__human=True)),
                  machine=Count("clicks", filter=of_mailing & Q(clicks__human=False)))
        .order_by("honeypot", "-human", "-machine", "url"))


def overview_chart(mailings, counts):
    """Rates of each mailing side by side: bounced, unsubscribed, replied, clicked."""
    if not mailings:
        return None
    keys = ("hard_bounced", "unsubscribed", "replied", "clicked")
    labels = {"hard_bounced": _("bounced %"), "unsubscribed": _("unsubscribed %"),
              "replied": _("replied %"), "clicked": _("clicked %")}
    per_mailing = [rates(counts[mailing.pk]) for mailing in mailings]
    return Chart(
        title=_("Reactions per mailing"),
        description=_("Per mailing, oldest first: bounced in percent of sent; unsubscribed, "
                      "replied and clicked (human) in percent of delivered."),
        categories=[str(mailing)[:18] for mailing in mailings],
        series=[Series(labels[key], [round(r[key] or 0, 1) for r in per_mailing])
                for key in keys],
        unit="%")
