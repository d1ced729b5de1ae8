"""Why a mailing is not sending right now, in words a sales manager understands.

Built from the same questions the engine asks (eligibility.py), so it can never say
"sending" while the engine waits, or the reverse. For an active mailing that is not
sending there is always at least one reason.
"""

import datetime

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import conf
from ..models import Delivery, EmailAccount, MassmailSettings
from . import eligibility, limits, states
from .eligibility import local_time, split, usable_accounts
from .routing import non_vip_waiting


def why_not_sending(mailing, now=None):
    """A list of reasons; empty when the mailing is sending (or may send) right now."""
    now = now or timezone.now()
    settings = MassmailSettings.load()
    held = eligibility.hold(mailing, now, settings)
    if held:
        return [held]
    reasons = _held_rows(mailing, now, settings) + _account_reasons(mailing, now, settings)
    if not reasons and not states.sendable(mailing.deliveries.all(), now).exists():
        reasons.append(_("Nothing is waiting to be sent; the mailing finishes at the next "
                         "dispatch."))
    return reasons


def _held_rows(mailing, now, settings):
    """Rows a batch is sending now, and rows a stopped worker left behind."""
    held = Q(status__in=(Delivery.Status.CLAIMED, Delivery.Status.SENDING))
    row = mailing.deliveries.filter(held).aggregate(
        live=Count("id", filter=Q(lease_until__gte=now)),
        stale=Count("id", filter=Q(lease_until__lt=now)),
        expired_at=Max("lease_until", filter=Q(lease_until__lt=now)),
        first_attempt=Min("attempted_at", filter=Q(lease_until__gte=now)),
    )
    reasons = []
    if row["live"]:
        since = EmailAccount.objects.filter(
            deliveries__mailing=mailing, deliveries__status__in=(Delivery.Status.CLAIMED,
                                                                 Delivery.Status.SENDING),
            batch_started_at__isnull=False).aggregate(since=Min("batch_started_at"))["since"]
        reasons.append(ngettext(
            "%(count)d email is being sent by a worker since %(when)s.",
            "%(count)d emails are being sent by a worker since %(when)s.", row["live"])
            % {"count": row["live"], "when": local_time(since or row["first_attempt"] or now,
                                                         settings)})
    if row["stale"]:
        back = now + datetime.timedelta(seconds=conf.DISPATCH_INTERVAL)
        reasons.append(ngettext(
            "A worker stopped while holding %(count)d email (its lease ended at %(expired)s); "
            "it is taken back at the next dispatch, by %(when)s.",
            "A worker stopped while holding %(count)d emails (their lease ended at %(expired)s); "
            "they are taken back at the next dispatch, by %(when)s.", row["stale"])
            % {"count": row["stale"], "expired": local_time(row["expired_at"], settings),
               "when": local_time(back, settings)})
    return reasons


def _account_reasons(mailing, now, settings):
    reasons = []
    pending = mailing.deliveries.filter(status=Delivery.Status.PENDING)
    accounts = usable_accounts(mailing.owner_id, now)
    main, others = split(accounts)
    if not accounts:
        return [_("No usable email account for mailings."), *_account_problems(mailing, now, settings)]
    if not others:
        waiting = non_vip_waiting(mailing)
        if waiting:
            reasons.append(ngettext(
                "%(count)d non-VIP recipient waits: the main account sends only to VIP "
                "recipients and there is no other usable account.",
                "%(count)d non-VIP recipients wait: the main account sends only to VIP "
                "recipients and there is no other usable account.", waiting) % {"count": waiting})
    sendable = states.sendable(pending, now)
    if not sendable.exists():
        retry = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        if retry:
            reasons.append(_("Waiting to retry temporary failures; next attempt at %(when)s.")
                           % {"when": local_time(retry, settings)})
        return reasons
    with_work = [a for a in accounts if sendable.filter(account=a).exists()]
    blocked = [a for a in with_work if limits.remaining(a, now, settings) <= 0]
    if with_work and len(blocked) == len(with_work):
        for account in blocked:
            reasons.append(_("Account %(account)s reached its limits until %(when)s.") % {
                "account": account,
                "when": local_time(limits.available_again_at(account, now, settings), settings)})
    if not with_work or blocked:
        reasons.extend(_account_problems(mailing, now, settings))
    return reasons


def _account_problems(mailing, now, settings):
    """Disabled and paused accounts of the owner, with the reason."""
    problems = []
    accounts = EmailAccount.objects.filter(owner_id=mailing.owner_id, massmail=True)
    for account in accounts.defer("password"):
        if account.disabled_at:
            problems.append(_("Account %(account)s is disabled: %(reason)s")
                            % {"account": account, "reason": account.disabled_reason})
        elif account.paused_until and account.paused_until > now:
            problems.append(_("Account %(account)s is paused until %(when)s: %(reason)s")
                            % {"account": account, "when": local_time(account.paused_until, settings),
                               "reason": account.last_error})
    return problems

