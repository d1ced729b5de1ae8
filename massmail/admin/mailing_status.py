"""How each mailing of a list page is going, for the whole page at once.

The mailing list, its self-updating cells and the change page show an honest progress
("Delivered X of Y", with failed, bounced, skipped and unknown rows as their own
segments, so an all-failed mailing never looks like a full green bar) and why an active
mailing is not sending right now. Computed per mailing, the "why" costs a dozen queries
a row; here it is computed for a page from data fetched once: the delivery counts, the
owners' accounts, their recent usage and the waiting rows, a fixed number of queries
whether the page shows one mailing or a hundred. An active mailing always gets a
sentence, even when it is sending.
"""

from collections import defaultdict

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..models import Delivery, EmailAccount, Mailing, Suppression
from ..sending import eligibility
from ..sending.control import counts_by_mailing
from ..sending.eligibility import local_time
from ..sending.states import OPEN as OPEN_STATUSES
from .account_usage import remaining, usage_by_account

S = Delivery.Status
# The segments of the bar, in order; the rest of the bar is what is still to do.
SEGMENTS = ("delivered", "failed", "bounced", "skipped", "unknown")


# --- counts --------------------------------------------------------------------------------


def progress_counts(mailing_ids, now=None):
    """``counts_by_mailing`` plus, per mailing, "bounced" (rows a mailbox reported as
    bounced, or failed at an address now suppressed as bounced), "delivered" (sent and
    not bounced) and "failed" without the bounces: two queries for any number."""
    counts = counts_by_mailing(mailing_ids, now)
    bounced_address = Exists(Suppression.objects.filter(
        email=OuterRef("email"), reason=Suppression.Reason.BOUNCED))
    bounced = (
        Delivery.objects.filter(mailing_id__in=mailing_ids)
        .filter(~Q(bounce="") | Q(status=S.FAILED) & bounced_address)
        .order_by().values("mailing_id")
        .annotate(sent=Count("id", filter=Q(status=S.SENT)),
                  failed=Count("id", filter=Q(status=S.FAILED)))
    )
    by_mailing = {row["mailing_id"]: row for row in bounced}
    for pk, row in counts.items():
        found = by_mailing.get(pk, {"sent": 0, "failed": 0})
        row["bounced"] = found["sent"] + found["failed"]
        row["delivered"] = row[S.SENT] - found["sent"]
        row["failed_only"] = row[S.FAILED] - found["failed"]
    return counts


def percent_processed(counts):
    """Share of rows the engine is finished with, rounded down: 100 only when no row
    is waiting or under way."""
    if not counts["total"]:
        return 100
    waiting = sum(counts[status] for status in OPEN_STATUSES)
    return (counts["total"] - waiting) * 100 // counts["total"]


def not_delivered(counts):
    return counts["failed_only"] + counts["bounced"] + counts[S.UNKNOWN]


def progress_html(counts):
    """"Delivered X of Y", a bar with one segment per outcome, the share processed and
    the other outcomes in words."""
    total = counts["total"] or 1
    sizes = {"delivered": counts["delivered"], "failed": counts["failed_only"],
             "bounced": counts["bounced"], "skipped": counts[S.SKIPPED],
             "unknown": counts[S.UNKNOWN]}
    segments = format_html_join("", '<span class="massmail-bar-{}" style="width: {}%" title="{}"></span>', (
        (name, sizes[name] * 100 / total, sizes[name]) for name in SEGMENTS if sizes[name]))
    words = {
        "failed": _("%(count)d failed"), "bounced": _("%(count)d bounced"),
        "skipped": _("%(count)d skipped"), "unknown": _("%(count)d unknown"),
    }
    numbers = [text % {"count": sizes[name]} for name, text in words.items() if sizes[name]]
    percent = percent_processed(counts)
    return format_html(
        '<span class="massmail-delivered">{}</span> '
        '<span class="massmail-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        'aria-valuenow="{}">{}</span> <span class="massmail-percent">{}</span> '
        '<span class="massmail-numbers">{}</span>',
        _("Delivered %(delivered)d of %(total)d") % {"delivered": sizes["delivered"],
                                                      "total": counts["total"]},
        percent, segments, _("%(percent)d%% processed") % {"percent": percent},
        " · ".join(numbers),
    )


def status_html(mailing, counts):
    """The status; a finished mailing with rows that did not arrive says so."""
    missing = not_delivered(counts)
    if mailing.status == Mailing.Status.DONE and missing:
        return format_html('{} <strong class="massmail-problems">{}</strong>', mailing.get_status_display(),
                           ngettext("%(count)d not delivered", "%(count)d not delivered", missing)
                           % {"count": missing})
    return format_html("{}", mailing.get_status_display())


# --- why not sending -----------------------------------------------------------------------


def page_reasons(mailings, counts, settings, now):
    """{mailing id: [sentences]} for the mailings of a page: why each is not sending,
    or that it is. A finished mailing gets none (its status says it all). Whether a
    mailing may send now is the engine's own predicate (eligibility.hold)."""
    reasons = {}
    active = []
    for mailing in mailings:
        held = eligibility.hold(mailing, now, settings)
        if mailing.status == Mailing.Status.DONE:
            reasons[mailing.pk] = []
        elif held:
            reasons[mailing.pk] = [held]
        else:
            active.append(mailing)
    if active:
        reasons.update(_account_reasons(active, counts, settings, now))
    return reasons


def _account_reasons(mailings, counts, settings, now):
    """Reasons of active mailings inside the working hours, from the owners' accounts,
    their usage and the waiting rows: four queries for the whole page."""
    accounts = defaultdict(list)
    for account in EmailAccount.objects.filter(
            owner_id__in={m.owner_id for m in mailings}, massmail=True).defer("password").order_by("pk"):
        accounts[account.owner_id].append(account)
    waiting = _waiting_rows([m.pk for m in mailings], now)
    usage = usage_by_account(
        [a for owned in accounts.values() for a in owned if _usable(a, now)], settings, now)
    result = {}
    for mailing in mailings:
        owned = accounts[mailing.owner_id]
        usable = [a for a in owned if _usable(a, now)]
        result[mailing.pk] = _reasons_of(mailing, counts[mailing.pk], waiting[mailing.pk],
                                         owned, usable, usage, settings, now)
    return result


def _usable(account, now):
    return account.disabled_at is None and not (account.paused_until and account.paused_until > now)


def _waiting_rows(mailing_ids, now):
    """Per mailing: pending rows sendable now, non-VIP pending rows, next retry time."""
    rows = (
        Delivery.objects.filter(mailing_id__in=mailing_ids, status=S.PENDING)
        .order_by().values("mailing_id")
        .annotate(sendable=Count("id", filter=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)),
                  non_vip=Count("id", filter=Q(recipient__vip=False)),
                  retry=Min("next_attempt_at"))
    )
    found = defaultdict(lambda: {"sendable": 0, "non_vip": 0, "retry": None})
    found.update((row.pop("mailing_id"), row) for row in rows)
    return found


def _reasons_of(mailing, counts, waiting, owned, usable, usage, settings, now):
    problems = [_problem(account, now, settings) for account in owned if not _usable(account, now)]
    if not usable:
        return [_("No usable email account for mailings."), *problems]
    reasons = []
    others = [a for a in usable if not a.main]
    if not others and waiting["non_vip"]:
        reasons.append(ngettext(
            "%(count)d non-VIP recipient waits: the main account sends only to VIP "
            "recipients and there is no other usable account.",
            "%(count)d non-VIP recipients wait: the main account sends only to VIP "
            "recipients and there is no other usable account.",
            waiting["non_vip"]) % {"count": waiting["non_vip"]})
    if not counts[S.PENDING]:
        if counts[S.CLAIMED] or counts[S.SENDING]:
            return [*reasons, _("Sending now.")]
        return [*reasons, _("Nothing is left to send: the mailing is being finished.")]
    if not waiting["sendable"]:
        return [*reasons, _("Waiting to retry temporary failures; next attempt at %(when)s.")
                % {"when": local_time(waiting["retry"], settings)}]
    if all(remaining(usage[account.pk]) <= 0 for account in usable):
        return [*reasons, *(_("Account %(account)s reached its sending limits.") % {"account": account}
                            for account in usable), *problems]
    return reasons or [_("Sending: the next emails leave at the next dispatch.")]


def _problem(account, now, settings):
    if account.disabled_at:
        return _("Account %(account)s is disabled: %(reason)s") % {
            "account": account, "reason": account.disabled_reason}
    return _("Account %(account)s is paused until %(when)s: %(reason)s") % {
        "account": account, "when": local_time(account.paused_until, settings),
        "reason": account.last_error}
