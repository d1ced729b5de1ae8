"""Planning: which (mailing, account) batches should run now. Sends nothing itself."""

import datetime

from django.db.models import Min
from django.utils import timezone

from ..conf import conf
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
        ready, _held = _startable(mailing, accounts, now, settings)
        jobs += [(mailing.pk, account_id) for account_id in ready]
    return jobs


def first_pairs(mailing_id, now=None):
    """What dispatch would plan for a mailing just activated, before anybody routed its
    rows: (ids of the accounts its first batches can start on, whether a batch holds
    another of them). Each first batch routes the rows itself (batch.py), and a held
    account needs a dispatch to look at it again (tasks.queue_activated)."""
    now = now or timezone.now()
    settings = MassmailSettings.load()
    mailing = Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.ACTIVE).first()
    if mailing is None or not eligibility.may_send_now(mailing, now, settings):
        return [], False
    accounts = eligibility.usable_accounts(mailing.owner_id, now)
    return _startable(mailing, accounts, now, settings, routed=False)


def _startable(mailing, accounts, now, settings, routed=True):
    """(ids of the ``accounts`` a batch of ``mailing`` can start on now, whether a batch
    holds one of them): free, with budget left and, once the rows are ``routed``, with
    rows to send."""
    ready, held = [], False
    for account in accounts:
        if _busy(account, now):
            held = True
            continue
        if routed and not states.sendable(
                Delivery.objects.filter(mailing=mailing, account=account), now).exists():
            continue
        if limits.remaining(account, now, settings) > 0:
            ready.append(account.pk)
    return ready, held


def _busy(account, now):
    """A batch holds this account: another one would only find it locked."""
    return EmailAccount.objects.filter(pk=account.pk, batch_lease_until__gte=now).exists()


def recheck_at(now):
    """When to dispatch again before the next beat, or None: just after the earliest
    batch lease of an account that ends before that beat.

    A live batch renews its lease long before then, and that extra dispatch finds the
    account busy. A killed worker's lease is not renewed, and without it the account
    would wait for the following beat: up to LEASE_SECONDS + DISPATCH_INTERVAL after the
    crash instead of about LEASE_SECONDS."""
    next_beat = now + datetime.timedelta(seconds=conf.DISPATCH_INTERVAL)
    end = EmailAccount.objects.filter(
        massmail=True, disabled_at__isnull=True, batch_lease_until__gte=now,
        batch_lease_until__lt=next_beat,
    ).aggregate(end=Min("batch_lease_until"))["end"]
    return end + datetime.timedelta(seconds=1) if end else None
