"""Status changes of a mailing, always through the engine's checks."""

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..conf import conf
from ..exceptions import MassmailError
from ..models import Delivery, Mailing, MassmailSettings
from . import limits, notify, states
from .eligibility import split, usable_accounts
from .routing import non_vip_waiting


class ActivationError(MassmailError):
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
    """Make ``mailing`` active and queue its first batches; returns the warnings."""
    warnings = activation_warnings(mailing)
    Mailing.objects.filter(pk=mailing.pk).update(status=Mailing.Status.ACTIVE, status_reason="",
                                                 updated_at=timezone.now())
    mailing.status, mailing.status_reason = Mailing.Status.ACTIVE, ""
    if conf.DISPATCH_ON_ACTIVATE:
        from .. import tasks

        transaction.on_commit(lambda: tasks.queue_activated(mailing.pk))
    return warnings


def pause(mailing):
    _set_status(mailing, Mailing.Status.PAUSED, [Mailing.Status.ACTIVE])


def interrupt(mailing, reason=""):
    """Stop ``mailing``; ``reason`` is kept on it, shown in "why not sending" and sent to
    the owner."""
    if _set_status(mailing, Mailing.Status.INTERRUPTED,
                   [Mailing.Status.ACTIVE, Mailing.Status.PAUSED], status_reason=reason) and reason:
        notify.mailing_interrupted(mailing, reason)


def _set_status(mailing, status, allowed_from, **changes):
    changed = Mailing.objects.filter(pk=mailing.pk, status__in=allowed_from).update(
        status=status, updated_at=timezone.now(), **changes)
    if changed:
        mailing.status = status
        for name, value in changes.items():
            setattr(mailing, name, value)
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
    if mailing.deliveries.filter(status__in=states.OPEN).exists():
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
    ids = states.resend(deliveries)
    mailing_ids = set(Delivery.objects.filter(pk__in=ids).values_list("mailing_id", flat=True))
    Mailing.objects.filter(pk__in=mailing_ids, status=Mailing.Status.DONE).update(
        status=Mailing.Status.ACTIVE, finished_at=None, updated_at=timezone.now())
    return len(ids)
