"""Sending one batch of one mailing through one account.

A batch holds the account's batch lease (one connection per account at a time), then
claims rows in rounds within the account's budget, re-checks every rule for the claimed
rows, and sends them over one reused SMTP connection. Before each email leaves, its row
is committed ``sending`` with the Message-ID (a group at a time, see journal.py); after
it, the outcome is recorded with the server's reply. It stops at the end of the
working-hours window, after BATCH_MAX_SECONDS, when the mailing is paused, or when the
account cannot send; rows it did not attempt go back to pending.
"""

import datetime
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.urls import get_script_prefix, get_urlconf, set_script_prefix, set_urlconf
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rendering
from ..audience import (
    Exclusion,
    candidate_of,
    record_exclusion,
    suppression_reasons,
    with_eligibility,
)
from ..conf import conf
from ..models import Delivery, EmailAccount, Mailing, MassmailSettings, Suppression
from ..recipients import source_for_content_type
from ..suppressions import suppress
from ..tokens import unsubscribe_url
from . import claims, control, notify, schedule
from .journal import Journal
from .smtp import AccountError, Connection, Outcome

log = logging.getLogger(__name__)

# Exclusion reasons found at send time, as Delivery skip reasons.
SKIP_REASONS = {
    Exclusion.NOT_OWNER: Delivery.SkipReason.OWNER_CHANGED,
    Exclusion.NO_ADDRESS: Delivery.SkipReason.INVALID_ADDRESS,
    Exclusion.INVALID_ADDRESS: Delivery.SkipReason.INVALID_ADDRESS,
    Exclusion.NOT_ELIGIBLE: Delivery.SkipReason.NOT_ELIGIBLE,
    Exclusion.HOST_UNSUBSCRIBED: Delivery.SkipReason.HOST_UNSUBSCRIBED,
    Exclusion.UNSUBSCRIBED: Delivery.SkipReason.UNSUBSCRIBED,
    Exclusion.SUPPRESSED: Delivery.SkipReason.SUPPRESSED,
}
# How often a running batch looks whether its mailing was paused or interrupted.
STATUS_CHECK_SECONDS = 2
QUOTA_PAUSE = datetime.timedelta(hours=1)
UNREACHABLE_PAUSE = datetime.timedelta(minutes=5)


@dataclass
class BatchResult:
    counts: dict = field(default_factory=lambda: defaultdict(int))
    # True when the batch stopped with work and budget left (continue at once).
    more: bool = False


@dataclass
class Target:
    """A claimed row that passed the send-time checks, with its merge values."""

    delivery: Delivery
    values: dict


class Stop(Exception):
    """Ends the batch early; claimed rows not yet attempted are released."""

    def __init__(self, more=False):
        self.more = more


def send_batch(mailing_id, account_id):
    """Send what ``account`` may send of ``mailing`` now. Returns a BatchResult."""
    result = BatchResult()
    started = timezone.now()
    lease_owner = claims.new_lease_owner()
    if not _acquire_account(account_id, lease_owner, started):
        return result
    try:
        _run(mailing_id, account_id, lease_owner, started, result)
    finally:
        EmailAccount.objects.filter(pk=account_id, batch_lease_owner=lease_owner).update(
            batch_lease_until=None, batch_lease_owner=""
        )
    return result


def _acquire_account(account_id, lease_owner, now):
    free = Q(batch_lease_until__isnull=True) | Q(batch_lease_until__lt=now)
    return EmailAccount.objects.filter(free, pk=account_id).update(
        batch_lease_until=now + datetime.timedelta(seconds=conf.LEASE_SECONDS),
        batch_lease_owner=lease_owner,
    ) == 1


def _run(mailing_id, account_id, lease_owner, started, result):
    settings = MassmailSettings.load()
    claims.recover_expired(started)
    mailing = Mailing.objects.select_related("message", "owner").get(pk=mailing_id)
    account = EmailAccount.objects.get(pk=account_id)
    if account.owner_id != mailing.owner_id:
        log.error("Refusing to send mailing %s through account %s of another owner.",
                  mailing.pk, account.pk)
        return
    deadline = _deadline(mailing, started, settings)
    if deadline is None:
        return
    try:
        prepared = rendering.prepare(mailing.message)
        sender = _Sender(mailing, account, settings, prepared, lease_owner, deadline, result)
        sender.probe()
    except Exception as exc:  # nothing of this mailing can be sent: say so, don't loop
        control.interrupt(mailing, reason=_("The message cannot be rendered: %s") % exc)
        return
    with Connection(account) as connection:
        sender.connection = connection
        try:
            while timezone.now() < deadline:
                ids = claims.claim(mailing, account, timezone.now(), settings, lease_owner)
                if not ids:
                    break
                sender.send(ids)
            else:
                result.more = True
        except Stop as stop:
            result.more = stop.more
    control.complete_if_finished(mailing)


def _use_url_context(script_prefix, urlconf):
    set_script_prefix(script_prefix)
    set_urlconf(urlconf)


def _deadline(mailing, now, settings):
    """When this batch must stop, or None when the mailing may not send now."""
    if mailing.status != Mailing.Status.ACTIVE or (mailing.start_at and mailing.start_at > now):
        return None
    window_end = schedule.window_end(now, settings)
    if window_end is None:
        return None
    return min(window_end, now + datetime.timedelta(seconds=conf.BATCH_MAX_SECONDS))


class _Sender:
    def __init__(self, mailing, account, settings, prepared, lease_owner, deadline, result):
        self.mailing = mailing
        self.account = account
        self.settings = settings
        self.prepared = prepared
        self.lease_owner = lease_owner
        self.deadline = deadline
        self.result = result
        self.list_id = rendering.list_id(mailing)
        self.status_checked = timezone.now()
        self.journal = Journal(lease_owner, account.pk)
        self.connection = None

    def send(self, ids):
        """Send the claimed rows in groups. The next group's emails are rendered on a
        helper thread while the current group is on the wire (rendering is CPU, SMTP and
        commits mostly wait), so the rendering cost hides behind the network."""
        targets = self.check(ids)
        size = conf.SENDING_GROUP
        groups = [targets[start:start + size] for start in range(0, len(targets), size)]
        # The helper thread builds unsubscribe URLs: give it this thread's URL context.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="massmail-render",
                                initializer=_use_url_context,
                                initargs=(get_script_prefix(), get_urlconf())) as renderer:
            upcoming = renderer.submit(self.build_group, groups[0]) if groups else None
            try:
                for index in range(len(groups)):
                    emails = upcoming.result()
                    if index + 1 < len(groups):
                        upcoming = renderer.submit(self.build_group, groups[index + 1])
                    self.send_group(emails, later=[t for g in groups[index + 1:] for t in g])
            finally:
                self.journal.flush()

    def build_group(self, group):
        now = timezone.now()
        return [self.build(target, now) for target in group]

    def send_group(self, emails, later):
        """Mark the group ``sending`` in one commit, then send its emails one by one."""
        try:
            self.before_each()
            self.open_connection()
        except Stop:
            self.give_back(emails, set(), later)
            raise
        started = self.journal.start([(t.delivery.pk, message_id) for t, message_id, _ in emails],
                                     timezone.now())
        for index, (target, _message_id, data) in enumerate(emails):
            if target.delivery.pk not in started:
                continue  # unsubscribed meanwhile, or the lease was lost
            try:
                if index:
                    self.before_each()
                self.open_connection()
                outcome = self.connection.send(self.account.from_email, target.delivery.email, data)
            except Stop:
                self.give_back(emails[index:], started, later)
                raise
            try:
                self.record(target.delivery, outcome)
            except Stop:
                self.give_back(emails[index + 1:], started, later)
                raise

    def give_back(self, emails, started, later):
        """Return rows this batch will not attempt: marked ones to ``claimed``, then all
        of them to ``pending``."""
        ids = [target.delivery.pk for target, _message_id, _data in emails]
        self.journal.unsend([pk for pk in ids if pk in started])
        claims.release(ids + [target.delivery.pk for target in later], self.lease_owner)

    def open_connection(self):
        try:
            self.connection.ensure_open()
        except AccountError as exc:
            self.account_failed(exc)
            raise Stop(more=False) from exc

    def before_each(self):
        now = timezone.now()
        if now >= self.deadline:
            raise Stop(more=True)  # the next batch starts again if the window is still open
        if (now - self.status_checked).total_seconds() >= STATUS_CHECK_SECONDS:
            self.status_checked = now
            status = Mailing.objects.filter(pk=self.mailing.pk).values_list("status", flat=True)
            if status.first() != Mailing.Status.ACTIVE:
                raise Stop(more=False)

    def check(self, ids):
        """Apply every rule again to the claimed rows: skip or release what may not go."""
        deliveries = list(
            Delivery.objects.filter(pk__in=ids).select_related("recipient").order_by("pk")
            .only("email", "attempts", "recipient__content_type_id", "recipient__object_id",
                  "recipient__vip")
        )
        by_type = defaultdict(list)
        for delivery in deliveries:
            by_type[delivery.recipient.content_type_id].append(delivery.recipient.object_id)
        records = {}
        for content_type_id, object_ids in by_type.items():
            source = source_for_content_type(ContentType.objects.get_for_id(content_type_id))
            queryset = source.get_model()._default_manager.filter(pk__in=object_ids)
            queryset = with_eligibility(source, queryset.select_related(*source.select_related))
            for record in queryset:
                records[content_type_id, record.pk] = (source, record)
        suppressed = suppression_reasons(d.email for d in deliveries)
        skipped, wrong_account, targets = defaultdict(list), [], []
        for delivery in deliveries:
            key = (delivery.recipient.content_type_id, delivery.recipient.object_id)
            if key not in records:
                reason = Delivery.SkipReason.RECORD_DELETED
            else:
                candidate = candidate_of(*records[key])
                exclusion = record_exclusion(candidate, self.mailing.owner_id)
                exclusion = exclusion or suppressed.get(delivery.email)
                reason = SKIP_REASONS.get(exclusion)
                if not reason and not candidate.has_address(delivery.email):
                    # The old address may be someone else's now; the new one was never
                    # checked for duplicates or suppression in this mailing.
                    reason = Delivery.SkipReason.ADDRESS_CHANGED
            if reason:
                skipped[reason].append(delivery.pk)
            elif self.account.main and not delivery.recipient.vip:
                wrong_account.append(delivery.pk)
            else:
                source, record = records[key]
                targets.append(Target(delivery, source.merge_values(record)))
        for reason, skip_ids in skipped.items():
            Delivery.objects.filter(pk__in=skip_ids, lease_owner=self.lease_owner).update(
                status=Delivery.Status.SKIPPED, skip_reason=reason, lease_until=None,
            )
            self.result.counts["skipped"] += len(skip_ids)
        # No longer VIP: the main account must not send it; routing picks another.
        claims.release(wrong_account, self.lease_owner, account=None)
        return targets

    def probe(self):
        """Build one email to a placeholder recipient, before claiming anything.

        What is the same for every email of the batch (the message, the account's From,
        List-Id, the unsubscribe URL's base) fails here, for the mailing, instead of for
        each recipient. What differs per recipient cannot fail later: the address was
        validated (is_valid_email) and merge values are escaped or flattened.
        """
        self.build(Target(Delivery(pk=0, email="probe@example.invalid"), {}), timezone.now())

    def build(self, target, now):
        """(target, Message-ID, the email's bytes) for one recipient."""
        delivery = target.delivery
        url = unsubscribe_url(delivery.pk)
        context = rendering.recipient_context(
            target.values, email=delivery.email, unsubscribe_url=url,
            postal_address=self.settings.postal_address)
        message_id = rendering.make_message_id(self.account.from_email)
        data = self.prepared.build(
            context, from_email=self.account.from_email, to_email=delivery.email,
            message_id=message_id, list_id=self.list_id, unsubscribe_url=url, date=now,
        )
        return target, message_id, data

    def record(self, delivery, outcome):
        self.result.counts[outcome.kind] += 1
        reply = outcome.reply[:2000]
        if outcome.kind == Outcome.SENT:
            self.journal.sent(delivery.pk, outcome.code, reply, timezone.now())
            return
        self.journal.flush()
        attempts = delivery.attempts + 1
        done = {"lease_until": None, "smtp_code": outcome.code, "smtp_reply": reply}
        rows = Delivery.objects.filter(pk=delivery.pk)
        if outcome.kind in (Outcome.PERMANENT, Outcome.BOUNCED):
            with transaction.atomic():
                rows.update(status=Delivery.Status.FAILED, **done)
                if outcome.kind == Outcome.BOUNCED:
                    suppress(delivery.email, Suppression.Reason.BOUNCED, mailing=self.mailing,
                             channel=Suppression.Channel.SMTP, note=outcome.reply)
        elif outcome.kind == Outcome.UNKNOWN:
            rows.update(status=Delivery.Status.UNKNOWN, **done)
        elif outcome.kind in (Outcome.QUOTA, Outcome.SENDER):
            # The account cannot send now; the recipient is not to blame.
            rows.update(status=Delivery.Status.PENDING, attempts=delivery.attempts, **done)
            if outcome.kind == Outcome.QUOTA:
                self.pause_account(QUOTA_PAUSE,
                                   _("The provider reports a quota: %s") % outcome.reply)
            else:
                self.pause_account(UNREACHABLE_PAUSE, _("The server refused the sender: "
                                                        "%(code)s %(reply)s")
                                   % {"code": outcome.code, "reply": outcome.reply})
            raise Stop(more=False)
        elif attempts >= conf.MAX_ATTEMPTS:
            rows.update(status=Delivery.Status.FAILED, **done)
        else:
            delays = conf.RETRY_DELAYS
            delay = delays[min(attempts, len(delays)) - 1]
            rows.update(status=Delivery.Status.PENDING, lease_owner="",
                        next_attempt_at=timezone.now() + datetime.timedelta(seconds=delay), **done)

    def account_failed(self, exc):
        if exc.authentication:
            now = timezone.now()
            EmailAccount.objects.filter(pk=self.account.pk).update(
                disabled_at=now, disabled_reason=str(exc), last_error=str(exc), last_error_at=now,
            )
            notify.account_disabled(self.account, str(exc))
        else:
            self.pause_account(UNREACHABLE_PAUSE, str(exc))

    def pause_account(self, length, reason):
        now = timezone.now()
        EmailAccount.objects.filter(pk=self.account.pk).update(
            paused_until=now + length, last_error=reason, last_error_at=now,
        )
        log.warning("Account %s paused until %s: %s", self.account.pk, now + length, reason)
