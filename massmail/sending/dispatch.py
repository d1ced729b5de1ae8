"""Planning: which (mailing, account) batches should run now. Sends nothing itself."""

from django.utils import timezone

from ..models import Delivery, EmailAccount, Mailing, MassmailSettings
from . import control, eligibility, limits, states
from .routing import route


def dispatch(now=None):
    """Route pending rows and return the (mailing id, account id) pairs that have work."""
    now = now or timezone.now()
    settings = MassmailSettings.load()
    states.expire(now)
    jobs = []
    for mailing in Mailing.objects.filter(status=Mailing.Status.ACTIVE).order_by("created_at"):
        if control.complete_if_finished(mailing) or not eligibility.may_send_now(
                mailing, now, settings):
            continue
        accounts = eligibility.usable_accounts(mailing.owner_id, now)
        route(mailing, accounts)
        for account in accounts:
            if _busy(account, now):
                continue
            rows = states.sendable(Delivery.objects.filter(mailing=mailing, account=account), now)
            if rows.exists() and limits.remaining(account, now, settings) > 0:
                jobs.append((mailing.pk, account.pk))
    return jobs


def _busy(account, now):
    """A batch holds this account: another one would only find it locked."""
    return EmailAccount.objects.filter(pk=account.pk, batch_lease_until__gte=now).exists()
