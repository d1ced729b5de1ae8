"""Handing delivery rows to exactly one worker, and taking them back after a crash.

A batch locks its account row (so budget checks of concurrent claimers are serialised),
takes pending rows with SKIP LOCKED on PostgreSQL, marks them ``claimed`` with a lease
and commits. A claimed row was never attempted, so an expired one goes back to
``pending``. A ``sending`` row may have reached the server, so an expired one becomes
``unknown`` and is never resent automatically (at most once).
"""

import datetime
import uuid

from django.db import transaction
from django.db.models import Q

from ..conf import conf
from ..models import Delivery, EmailAccount
from . import limits


def new_lease_owner():
    return uuid.uuid4().hex


def sendable(queryset, now):
    """Pending rows whose retry time, if any, has come."""
    return queryset.filter(status=Delivery.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def claim(mailing, account, now, settings, lease_owner, size=None):
    """Claim up to ``size`` rows of ``mailing`` for ``account`` within its budget.

    Returns the ids claimed (possibly none).
    """
    size = size or conf.BATCH_SIZE
    with transaction.atomic():
        account = EmailAccount.objects.select_for_update().defer("password").get(pk=account.pk)
        if account.disabled_at or not account.massmail or (
            account.paused_until and account.paused_until > now
        ):
            return []
        budget = min(size, limits.remaining(account, now, settings))
        if budget <= 0:
            return []
        rows = sendable(Delivery.objects.filter(mailing=mailing, account=account), now)
        if account.main:
            rows = rows.filter(recipient__vip=True)
        ids = list(
            rows.order_by("id").select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:budget]
        )
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.CLAIMED,
            lease_until=now + datetime.timedelta(seconds=conf.LEASE_SECONDS),
            lease_owner=lease_owner,
        )
    return ids


def release(ids, lease_owner, **changes):
    """Give claimed rows of this batch back to ``pending`` (they were never attempted)."""
    return Delivery.objects.filter(
        pk__in=ids, status=Delivery.Status.CLAIMED, lease_owner=lease_owner
    ).update(status=Delivery.Status.PENDING, lease_until=None, lease_owner="", **changes)


def recover_expired(now):
    """Return expired claims to pending; mark expired sends unknown. Returns both counts."""
    expired = Q(lease_until__lt=now)
    returned = Delivery.objects.filter(expired, status=Delivery.Status.CLAIMED).update(
        status=Delivery.Status.PENDING, lease_until=None, lease_owner=""
    )
    unknown = Delivery.objects.filter(expired, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.UNKNOWN, lease_until=None,
        smtp_reply="The worker stopped while sending; the email may or may not have left.",
    )
    return returned, unknown
