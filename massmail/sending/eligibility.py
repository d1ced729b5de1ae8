"""The two questions every part of the engine asks, answered in one place each.

"May this mailing send now?" (``hold``) and "which of the owner's accounts may send
now?" (``usable_accounts``) serve dispatch, batches, ``why_not_sending`` and activation,
so that what the engine does and what a manager is told can never disagree.
"""

import zoneinfo

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ..creation.background import progress_text
from ..models import EmailAccount, Mailing
from . import schedule


def hold(mailing, now, settings):
    """Why ``mailing`` may not send at ``now``, in words; None when it may."""
    if mailing.status == Mailing.Status.PAUSED:
        return _("The mailing is paused: set it to Active to start sending.")
    if mailing.status == Mailing.Status.INTERRUPTED:
        if mailing.status_reason:
            return _("The mailing was interrupted: %(reason)s") % {"reason": mailing.status_reason}
        return _("The mailing was interrupted.")
    if mailing.status == Mailing.Status.DONE:
        return _("The mailing has finished.")
    if mailing.status == Mailing.Status.CREATING:
        return progress_text(mailing)
    if mailing.status != Mailing.Status.ACTIVE:
        return _("The mailing is not active.")
    if mailing.start_at and mailing.start_at > now:
        return _("The mailing starts at %(when)s.") % {"when": local_time(mailing.start_at, settings)}
    if schedule.window_end(now, settings) is None:
        opening = schedule.next_opening(now, settings)
        if opening is None:
            return _("No working days are set in Massmail Settings, so nothing is ever sent.")
        return _("Outside working hours until %(when)s.") % {"when": local_time(opening, settings)}
    return None


def may_send_now(mailing, now, settings):
    return hold(mailing, now, settings) is None


def usable_accounts(owner_id, now=None):
    """The owner's accounts that may send for mailings now."""
    now = now or timezone.now()
    return list(
        EmailAccount.objects.filter(owner_id=owner_id, massmail=True, disabled_at__isnull=True)
        .filter(Q(paused_until__isnull=True) | Q(paused_until__lte=now))
        .defer("password")
        .order_by("pk")
    )


def split(accounts):
    """(main account or None, the other accounts)."""
    main = next((account for account in accounts if account.main), None)
    return main, [account for account in accounts if not account.main]


def local_time(moment, settings):
    """``moment`` as a manager reads it: in the Massmail Settings time zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(settings.time_zone))
    return formats.date_format(local, "D j M, H:i") + f" ({settings.time_zone})"
