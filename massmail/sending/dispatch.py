"""Planning: which (mailing, account) batches should run now. Sends nothing itself."""

from django.utils import timezone

from ..models import Delivery, EmailAccount, Mailing, MassmailSettings
from . import claims, control, limits, schedule
from .routing import route, usable_accounts


def dispatch(now=None):
    """Route pending rows and return the (mailing id, account id) pairs that have work."""
    now = now or timezone.now()
    settings = MassmailSettings.load()
    claims.recover_expired(now)
    open_window = schedule.window_end(now, settings) is not None
    jobs = []
    for mailing in Mailing.objects.filter(status=Mailing.Status.ACTIVE).order_by("created_at"):
        if control.complete_if_finished(mailing) or not open_window:
            continue
        if mailing.start_at and mailing.start_at > now:
            continue
        accounts = usable_accounts(mailing.owner_id, now)
        route(mailing, accounts)
        for account in accounts:
            if _busy(account, now):
                continue
            rows = claims.sendable(Delivery.objects.filter(mailing=mailing, account=account), now)
            if rows.exists() and limits.remaining(account, now, settings) > 0:
                jobs.append((mailing.pk, account.pk))
    return jobs


def _busy(account, now):
    """A batch holds this account: another one would only find it locked."""
    return EmailAccount.objects.filter(pk=account.pk, batch_lease_until__gte=now).exists()
