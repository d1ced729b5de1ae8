"""Status changes of a mailing, always through the engine's checks."""

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import conf
from ..models import Delivery, Mailing, MassmailSettings
from . import limits, notify
from .routing import non_vip_waiting, split, usable_accounts

OPEN_STATUSES = (Delivery.Status.PENDING, Delivery.Status.CLAIMED, Delivery.Status.SENDING)


class ActivationError(Exception):
    """The mailing cannot be activated; the message says what to do."""


def activation_warnings(mailing):
    """Refuse (ActivationError) or return the warnings of activating ``mailing`` now."""
    if mailing.status == Mailing.Status.DONE:
        raise ActivationError(_("This mailing has finished; create a new one."))
    if mailing.status == Mailing.Status.CREATING:
        raise ActivationError(_("This mailing is still being created; activate it when it is ready."))
    main, others = split(usable_accounts(mailing.owner_id))
    if not main and not others:
        raise ActivationError(_(
            "You have no usable email account for mailings. Ask an administrator to add one "
            "(or to re-enable a disabled one), then activate again."))
    warnings = []
    if not others:
        waiting = non_vip_waiting(mailing)
        if waiting:
            warnings.append(ngettext(
                "Only your main account is usable, and it sends to VIP recipients only: "
                "%(count)d non-VIP recipient will wait until another account is added.",
                "Only your main account is usable, and it sends to VIP recipients only: "
                "%(count)d non-VIP recipients will wait until another account is added.",
                waiting) % {"count": waiting})
    if MassmailSettings.load().unsubscribe_url == MassmailSettings.DEFAULT_UNSUBSCRIBE_URL:
        warnings.append(_(
            "The page shown after unsubscribing is still the default example.com page; "
            "a superuser should set it in Massmail Settings."))
    return warnings


def activate(mailing):
    """Make ``mailing`` active and trigger a dispatch; returns the warnings."""
    warnings = activation_warnings(mailing)
    Mailing.objects.filter(pk=mailing.pk).update(status=Mailing.Status.ACTIVE,
                                                 updated_at=timezone.now())
    mailing.status = Mailing.Status.ACTIVE
    if conf.DISPATCH_ON_ACTIVATE:
        from .. import tasks

        transaction.on_commit(tasks.dispatch.delay)
    return warnings


def pause(mailing):
    _set_status(mailing, Mailing.Status.PAUSED, [Mailing.Status.ACTIVE])


def interrupt(mailing, reason=""):
    _set_status(mailing, Mailing.Status.INTERRUPTED,
                [Mailing.Status.ACTIVE, Mailing.Status.PAUSED])
    if reason:
        notify.mailing_interrupted(mailing, reason)


def _set_status(mailing, status, allowed_from):
    changed = Mailing.objects.filter(pk=mailing.pk, status__in=allowed_from).update(
        status=status, updated_at=timezone.now())
    if changed:
        mailing.status = status
    return changed


def counts_by_mailing(mailing_ids, now=None):
    """{mailing id: {"total", each delivery status, "sent_24h"}} in one query, so a page
    of 100 mailings costs one aggregate, not one per row."""
    now = now or timezone.now()
    by_status = {status: Count("id", filter=Q(status=status)) for status in Delivery.Status.values}
    rows = (
        Delivery.objects.filter(mailing_id__in=mailing_ids).order_by().values("mailing_id")
        .annotate(total=Count("id"), **by_status, sent_24h=Count(
            "id", filter=Q(status=Delivery.Status.SENT, sent_at__gte=now - limits.DAY)))
    )
    empty = dict.fromkeys(["total", *Delivery.Status.values, "sent_24h"], 0)
    counts = {pk: dict(empty) for pk in mailing_ids}
    for row in rows:
        counts[row.pop("mailing_id")] = row
    return counts


def counts(mailing):
    """Deliveries of ``mailing`` by status (every status present), total and sent_24h."""
    return counts_by_mailing([mailing.pk])[mailing.pk]


def complete_if_finished(mailing):
    """Mark an active mailing done when nothing is left to send; notify once."""
    if mailing.deliveries.filter(status__in=OPEN_STATUSES).exists():
        return False
    done = Mailing.objects.filter(pk=mailing.pk, status=Mailing.Status.ACTIVE).update(
        status=Mailing.Status.DONE, finished_at=timezone.now())
    if done:
        mailing.status = Mailing.Status.DONE
        notify.mailing_done(mailing, counts(mailing))
    return bool(done)


def resend(deliveries):
    """Queue failed or unknown rows of ``deliveries`` again; returns how many.

    Unknown rows may already have reached the recipient: only an explicit choice of the
    manager resends them. A finished mailing becomes active again so the rows go out.
    """
    rows = deliveries.filter(status__in=[Delivery.Status.FAILED, Delivery.Status.UNKNOWN])
    mailing_ids = set(rows.values_list("mailing_id", flat=True))
    count = rows.update(status=Delivery.Status.PENDING, attempts=0, next_attempt_at=None,
                        lease_until=None, lease_owner="", skip_reason="")
    Mailing.objects.filter(pk__in=mailing_ids, status=Mailing.Status.DONE).update(
        status=Mailing.Status.ACTIVE, finished_at=None, updated_at=timezone.now())
    return count
