"""Applying a feedback outcome to a delivery, exactly once.

Each outcome is keyed so that reading the same message again changes nothing: a bounce
or complaint by (delivery, report Message-ID) in FeedbackReport, a reply by (delivery,
reply Message-ID) in Reply, an auto-reply by the delivery's ``auto_replied_at``.
Suppressions go through ``massmail.suppressions.suppress`` and happen only when the
report is new, so an address that a superuser un-suppressed stays so on a re-read.
"""

import datetime
import email
import email.policy
import logging

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ..conf import conf
from ..models import Delivery, FeedbackReport, Reply, Suppression
from ..signals import reply_received
from ..suppressions import suppress

log = logging.getLogger(__name__)


def _report(delivery, failure, feedback, kind, raw, now):
    report, created = FeedbackReport.objects.get_or_create(
        delivery=delivery, report_id=feedback.message_id[:255],
        defaults={"email": delivery.email, "kind": kind, "status": failure.status[:16],
                  "diagnostic": failure.diagnostic, "received_at": now,
                  "raw": raw[:conf.FEEDBACK_RAW_BYTES].decode("utf-8", "replace").replace("\x00", "")},
    )
    return created


def bounce(delivery, failure, feedback, raw, now):
    """A failed (5.x.x: hard) or delayed (4.x.x: soft) recipient. Hard bounces suppress
    the address; soft ones do after FEEDBACK_SOFT_BOUNCES in FEEDBACK_SOFT_BOUNCE_DAYS.
    Returns whether anything changed."""
    kind = FeedbackReport.Kind.HARD_BOUNCE if failure.permanent else FeedbackReport.Kind.SOFT_BOUNCE
    with transaction.atomic():
        if not _report(delivery, failure, feedback, kind, raw, now):
            return False
        rows = Delivery.objects.filter(pk=delivery.pk)
        if kind == FeedbackReport.Kind.HARD_BOUNCE:
            rows.update(bounce=Delivery.Bounce.HARD, bounce_status=failure.status[:16], bounced_at=now)
            suppress(delivery.email, Suppression.Reason.BOUNCED, mailing=delivery.mailing,
                     channel=Suppression.Channel.MAILBOX, note=f"{failure.status} {failure.diagnostic}")
            return True
        rows.filter(~Q(bounce=Delivery.Bounce.HARD)).update(
            bounce=Delivery.Bounce.SOFT, bounce_status=failure.status[:16], bounced_at=now)
        since = now - datetime.timedelta(days=conf.FEEDBACK_SOFT_BOUNCE_DAYS)
        soft = FeedbackReport.objects.filter(email=delivery.email, kind=kind, received_at__gte=since)
        if soft.count() >= conf.FEEDBACK_SOFT_BOUNCES:
            suppress(delivery.email, Suppression.Reason.BOUNCED, mailing=delivery.mailing,
                     channel=Suppression.Channel.MAILBOX,
                     note=_("%(count)d temporary failures in %(days)d days, the last: %(status)s") % {
                         "count": soft.count(), "days": conf.FEEDBACK_SOFT_BOUNCE_DAYS,
                         "status": failure.status})
    return True


def complaint(delivery, failure, feedback, raw, now):
    with transaction.atomic():
        if not _report(delivery, failure, feedback, FeedbackReport.Kind.COMPLAINT, raw, now):
            return False
        Delivery.objects.filter(pk=delivery.pk, complained_at__isnull=True).update(complained_at=now)
        suppress(delivery.email, Suppression.Reason.COMPLAINED, mailing=delivery.mailing,
                 channel=Suppression.Channel.MAILBOX, note=failure.diagnostic)
    return True


def auto_reply(delivery, now):
    """Flag the delivery; an auto-reply never suppresses anything."""
    return bool(Delivery.objects.filter(pk=delivery.pk, auto_replied_at__isnull=True)
                .update(auto_replied_at=now))


def reply(delivery, feedback, raw, now):
    """Record a human reply and send ``reply_received`` once for it, in the same
    transaction: when a receiver fails, nothing is recorded and the error is logged."""
    try:
        with transaction.atomic():
            _reply, created = Reply.objects.get_or_create(
                delivery=delivery, message_id=feedback.message_id[:255],
                defaults={"from_email": feedback.sender[:254], "subject": feedback.subject,
                          "sent_at": feedback.date, "received_at": now})
            if not created:
                return False
            Delivery.objects.filter(pk=delivery.pk, replied_at__isnull=True).update(replied_at=now)
            if feedback.unsubscribe:
                suppress(delivery.email, Suppression.Reason.REPLY, mailing=delivery.mailing,
                         channel=Suppression.Channel.MAILBOX, note=feedback.subject)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            reply_received.send(sender=Delivery, delivery=delivery, message=message)
    except Exception:  # a host receiver's error must not stop the reader
        log.exception("Recording the reply %s to delivery %s failed", feedback.message_id, delivery.pk)
        return False
    return True
