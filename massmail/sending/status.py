"""Why a mailing is not sending right now, in words a sales manager understands."""

import zoneinfo

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..creation import background
from ..models import Delivery, EmailAccount, Mailing, MassmailSettings
from . import claims, limits, schedule
from .routing import non_vip_waiting, split, usable_accounts


def _when(moment, settings):
    local = moment.astimezone(zoneinfo.ZoneInfo(settings.time_zone))
    return formats.date_format(local, "D j M, H:i") + f" ({settings.time_zone})"


def why_not_sending(mailing, now=None):
    """A list of reasons; empty when the mailing is sending (or may send) right now."""
    now = now or timezone.now()
    settings = MassmailSettings.load()
    if mailing.status == Mailing.Status.PAUSED:
        return [_("The mailing is paused: set it to Active to start sending.")]
    if mailing.status == Mailing.Status.INTERRUPTED:
        return [_("The mailing was interrupted.")]
    if mailing.status == Mailing.Status.DONE:
        return [_("The mailing has finished.")]
    if mailing.status == Mailing.Status.CREATING:
        return [background.progress_text(mailing)]
    if mailing.start_at and mailing.start_at > now:
        return [_("The mailing starts at %(when)s.") % {"when": _when(mailing.start_at, settings)}]
    if schedule.window_end(now, settings) is None:
        opening = schedule.next_opening(now, settings)
        if opening is None:
            return [_("No working days are set in Massmail Settings, so nothing is ever sent.")]
        return [_("Outside working hours until %(when)s.") % {"when": _when(opening, settings)}]
    return _account_reasons(mailing, now, settings)


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
    sendable = claims.sendable(pending, now)
    if not sendable.exists():
        retry = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        if retry:
            reasons.append(_("Waiting to retry temporary failures; next attempt at %(when)s.")
                           % {"when": _when(retry, settings)})
        return reasons
    with_work = [a for a in accounts if sendable.filter(account=a).exists()]
    blocked = [a for a in with_work if limits.remaining(a, now, settings) <= 0]
    if with_work and len(blocked) == len(with_work):
        for account in blocked:
            reasons.append(_("Account %(account)s reached its limits until %(when)s.") % {
                "account": account,
                "when": _when(limits.available_again_at(account, now, settings), settings)})
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
                            % {"account": account, "when": _when(account.paused_until, settings),
                               "reason": account.last_error})
    return problems
