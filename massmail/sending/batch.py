"""Sending one batch of one mailing through one account.

A batch holds the account's batch lease (one connection per account at a time), then
claims rows in rounds within the account's budget, re-checks every rule for the claimed
rows, and sends them over one reused SMTP connection. Before each email leaves, its row
is committed ``sending`` with the Message-ID (a group at a time, see journal.py); after
it, the outcome is recorded with the server's reply. It stops at the end of the
working-hours window, after BATCH_MAX_SECONDS, when the mailing is paused, or when the
account cannot send; rows it did not attempt go back to pending. While it runs it renews
its leases (a heartbeat), so a killed worker's rows come back within about LEASE_SECONDS
and a slow batch never loses its account to a second connection.

Only a message that cannot be rendered interrupts its mailing. Any other error (the
database, a bug) is logged with its traceback, the batch's rows are given back or
recorded, and the next run goes on.
"""

import datetime
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError
from django.db.models import Q
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
from . import accounts, control, eligibility, schedule, states, tickets
from .journal import Journal
from .lookahead import Lookahead
from .replies import Blame, Stage, classify
from .routing import route
from .transport import AccountError, open_transport

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
# How often it looks whether another pair waits for a worker (a cheap query on a tiny
# table; the sooner it makes way, the sooner a mailing just activated starts).
NEWCOMER_CHECK_SECONDS = 1


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
    lease_owner = states.new_lease_owner()
    first = tickets.started(mailing_id, account_id)
    if not _acquire_account(account_id, lease_owner, started):
        return result
    try:
        _run(mailing_id, account_id, lease_owner, started, result, first)
    except Exception:
        log.exception("The batch of mailing %s through account %s stopped on an error; its "
                      "rows are given back and the next run goes on.", mailing_id, account_id)
        _give_back_all(lease_owner)
        result.more = False
    finally:
        EmailAccount.objects.filter(pk=account_id, batch_lease_owner=lease_owner).update(
            batch_lease_until=None, batch_lease_owner="", batch_started_at=None)
    return result


def _give_back_all(lease_owner):
    try:
        states.release_all(lease_owner)
    except DatabaseError:  # the leases expire and the rows come back on their own
        log.exception("Could not give back the rows of batch %s now.", lease_owner)


def _acquire_account(account_id, lease_owner, now):
    free = Q(batch_lease_until__isnull=True) | Q(batch_lease_until__lt=now)
    return EmailAccount.objects.filter(free, pk=account_id).update(
        batch_lease_until=states.lease_until(now), batch_lease_owner=lease_owner,
        batch_started_at=now,
    ) == 1


def _run(mailing_id, account_id, lease_owner, started, result, first=False):
    """``first``: the batch of a pair that was waiting for its turn, possibly of a
    mailing just activated whose rows nobody has routed yet (tasks.queue_activated)."""
    settings = MassmailSettings.load()
    states.expire(started)
    mailing = Mailing.objects.select_related("message", "owner").get(pk=mailing_id)
    account = EmailAccount.objects.get(pk=account_id)
    if account.owner_id != mailing.owner_id:
        log.error("Refusing to send mailing %s through account %s of another owner.",
                  mailing.pk, account.pk)
        return
    if not eligibility.may_send_now(mailing, started, settings):
        return
    if first:
        route(mailing, eligibility.usable_accounts(mailing.owner_id, started))
    window_end = schedule.window_end(started, settings)
    quantum_end = started + datetime.timedelta(seconds=conf.BATCH_MAX_SECONDS)
    try:
        prepared = rendering.prepare(mailing.message)
        sender = _Sender(mailing, account, settings, prepared, lease_owner, result,
                         window_end=window_end, quantum_end=quantum_end)
        sender.probe()
    except DatabaseError:
        raise
    except Exception as exc:  # nothing of this mailing can be sent: say so, don't loop
        control.interrupt(mailing, reason=_("The message cannot be rendered: %s") % exc)
        return
    # Another pair waits for a worker: send one group, then make way (claiming only
    # that group, so making way costs little).
    making_way = tickets.newcomer_waiting(started)
    size = conf.SENDING_GROUP if making_way else None
    with open_transport(account) as transport:
        sender.transport = transport
        try:
            while ids := states.claim(mailing, account, timezone.now(), settings, lease_owner,
                                      size):
                sender.send(ids)
                if making_way or sender.turn_over():
                    result.more = True  # the continuation waits behind the other pairs
                    break
        except Stop as stop:
            result.more = stop.more
    control.complete_if_finished(mailing)


class _Sender:
    def __init__(self, mailing, account, settings, prepared, lease_owner, result, *,
                 window_end, quantum_end):
        self.mailing = mailing
        self.account = account
        self.settings = settings
        self.prepared = prepared
        self.lease_owner = lease_owner
        # Nothing leaves after the end of the working-hours window; after the quantum
        # (BATCH_MAX_SECONDS) the batch stops between two groups, having sent one at least.
        self.window_end = window_end
        self.quantum_end = quantum_end
        self.result = result
        self.list_id = rendering.list_id(mailing)
        self.status_checked = timezone.now()
        self.newcomers_checked = None
        self.renewed = time.monotonic()
        self.journal = Journal(lease_owner, account.pk)
        self.transport = None
        self.lookahead = None  # while send() runs

    def send(self, ids):
        """Send the claimed rows in groups, each made ready (rendered and committed
        ``sending``) while the one before it is on the wire (lookahead.py)."""
        targets = self.check(ids)
        size = conf.SENDING_GROUP
        groups = [targets[start:start + size] for start in range(0, len(targets), size)]
        if not groups:
            return
        with Lookahead(self.build_group, self.journal) as self.lookahead:
            try:
                self.lookahead.prepare(groups[0])
                for index in range(len(groups)):
                    emails, started = self.lookahead.take()
                    later = [t for g in groups[index + 1:] for t in g]
                    last = not later or self.turn_over()
                    if not last:
                        self.lookahead.prepare(groups[index + 1])
                    self.send_group(emails, started, later)
                    if last and later:
                        states.release([t.delivery.pk for t in later], self.lease_owner)
                        raise Stop(more=True)
            finally:
                self.journal.flush()

    def turn_over(self):
        """Before a group is sent: whether it should be this batch's last, which then
        queues its continuation, because its quantum is over or because another pair
        waits for a worker (looked up every NEWCOMER_CHECK_SECONDS, see tickets.py)."""
        now = timezone.now()
        if now >= self.quantum_end:
            return True
        checked = self.newcomers_checked
        if checked is None or (now - checked).total_seconds() >= NEWCOMER_CHECK_SECONDS:
            self.newcomers_checked = now
            return tickets.newcomer_waiting(now)
        return False

    def build_group(self, group):
        now = timezone.now()
        return [self.build(target, now) for target in group]

    def send_group(self, emails, started, later):
        """Send the marked emails of a group one by one.

        However the group stops (the window's end, a paused mailing, a failed account or an
        unexpected error), rows not attempted go back; an email whose transmission an
        error interrupted is recorded ``unknown``, never resent."""
        for index, (target, _message_id, data) in enumerate(emails):
            if target.delivery.pk not in started:
                continue  # unsubscribed meanwhile, or the lease was lost
            try:
                self.before_each()
                self.open_connection()
            except Exception:
                self.give_back(emails[index:], started, later)
                raise
            try:
                verdict = self.transport.send(self.account.from_email, target.delivery.email, data)
            except Exception as exc:
                self.unknown(target.delivery.pk, exc)
                self.give_back(emails[index + 1:], started, later)
                raise
            try:
                self.record(target.delivery, verdict)
            except Stop:
                self.give_back(emails[index + 1:], started, later)
                raise
            except Exception as exc:
                self.journal.forget(target.delivery.pk)
                self.unknown(target.delivery.pk, exc)
                self.give_back(emails[index + 1:], started, later)
                raise

    def unknown(self, delivery_id, exc):
        """The email may have left, an unexpected error says: never resend it."""
        self.lookahead.settle()
        self.journal.flush()
        states.mark_unknown(delivery_id, self.lease_owner, _unexpected(exc))

    def give_back(self, emails, started, later):
        """Return rows this batch will not attempt: marked ones (the next group's too,
        see lookahead.py) to ``claimed``, then all of them to ``pending``."""
        self.lookahead.withdraw()
        self.journal.flush()
        ids = [target.delivery.pk for target, _message_id, _data in emails]
        states.unsend([pk for pk in ids if pk in started], self.lease_owner)
        states.release(ids + [target.delivery.pk for target in later], self.lease_owner)

    def open_connection(self):
        try:
            self.transport.ensure_open()
        except AccountError as exc:
            self.lookahead.settle()
            if exc.authentication:
                accounts.disable(self.account, str(exc))
            else:
                accounts.failed(self.account, "unreachable" if exc.connection else "session",
                                str(exc))
            raise Stop(more=False) from exc

    def before_each(self):
        """Between two emails: the window's end, the heartbeat and the mailing's status."""
        now = timezone.now()
        if now >= self.window_end:
            raise Stop(more=True)  # the next batch starts again if the window is still open
        if time.monotonic() - self.renewed >= conf.LEASE_SECONDS / 3:
            self.heartbeat(now)
        if (now - self.status_checked).total_seconds() >= STATUS_CHECK_SECONDS:
            self.status_checked = now
            status = Mailing.objects.filter(pk=self.mailing.pk).values_list("status", flat=True)
            if status.first() != Mailing.Status.ACTIVE:
                raise Stop(more=False)

    def heartbeat(self, now):
        """Renew the leases of the rows and of the account; stop at once if another
        batch took the account (this one must have stalled past its lease)."""
        self.renewed = time.monotonic()
        self.journal.flush()
        states.renew(self.lease_owner, now)
        held = EmailAccount.objects.filter(pk=self.account.pk, batch_lease_owner=self.lease_owner
                                           ).update(batch_lease_until=states.lease_until(now))
        if not held:
            log.error("Batch %s lost account %s; it stops sending.", self.lease_owner,
                      self.account.pk)
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
            self.result.counts["skipped"] += states.skip(skip_ids, self.lease_owner, reason)
        # No longer VIP: the main account must not send it; routing picks another.
        states.release(wrong_account, self.lease_owner, account=None)
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
        url = unsubscribe_url(delivery.pk, delivery.email, self.mailing.pk)
        context = rendering.recipient_context(
            target.values, email=delivery.email, unsubscribe_url=url,
            postal_address=self.settings.postal_address, delivery_id=delivery.pk)
        message_id = rendering.make_message_id(self.account.from_email)
        data = self.prepared.build(
            context, from_email=self.account.from_email, to_email=delivery.email,
            message_id=message_id, list_id=self.list_id, unsubscribe_url=url, date=now,
            from_name=self.account.from_name,
        )
        return target, message_id, data

    def record(self, delivery, verdict):
        """Record ``verdict`` on the row and on the account; Stop when the account
        cannot go on."""
        self.result.counts[verdict.blame] += 1
        if verdict.blame == Blame.SENT:
            self.journal.sent(delivery.pk, verdict.code, verdict.reply[:2000], timezone.now())
            accounts.succeeded(self.account)
            return
        self.lookahead.settle()  # the handlers may open transactions
        self.journal.flush()
        handler = getattr(self, f"on_{verdict.blame}")
        handler(delivery, verdict)

    def on_recipient_gone(self, delivery, verdict):
        states.fail(delivery.pk, self.lease_owner, verdict)
        suppress(delivery.email, Suppression.Reason.BOUNCED, mailing=self.mailing,
                 channel=Suppression.Channel.SMTP, note=verdict.reply)

    def on_message(self, delivery, verdict):
        states.fail(delivery.pk, self.lease_owner, verdict)

    on_permanent = on_message

    def on_policy(self, delivery, verdict):
        states.fail(delivery.pk, self.lease_owner, verdict)
        if accounts.policy_refused(self.account, f"{verdict.code} {verdict.reply}"):
            raise Stop(more=False)

    def on_temporary(self, delivery, verdict):
        attempts = delivery.attempts + 1
        if attempts >= conf.MAX_ATTEMPTS:
            states.fail(delivery.pk, self.lease_owner, verdict)
        else:
            delays = conf.RETRY_DELAYS
            delay = datetime.timedelta(seconds=delays[min(attempts, len(delays)) - 1])
            states.retry_later(delivery.pk, self.lease_owner, verdict, timezone.now() + delay)
        if verdict.dropped and accounts.doubtful(self.account, verdict.reply):
            raise Stop(more=False)

    on_recipient_later = on_temporary

    def on_unknown(self, delivery, verdict):
        states.mark_unknown(delivery.pk, self.lease_owner, verdict)
        if accounts.doubtful(self.account, verdict.reply):
            raise Stop(more=False)

    def on_needs_smtputf8(self, delivery, verdict):
        states.skip_unsendable(delivery.pk, self.lease_owner, verdict,
                               Delivery.SkipReason.NEEDS_SMTPUTF8)

    def on_account(self, delivery, verdict):
        """The account cannot send now; the recipient is not to blame and keeps its place."""
        states.retry_later(delivery.pk, self.lease_owner, verdict, None, count_attempt=False)
        if verdict.stage == Stage.MAIL or "sender" in verdict.reply.lower():
            reason = _("The server refused the sender: %(code)s %(reply)s")
        else:
            reason = _("The server refused the account: %(code)s %(reply)s")
        reason %= {"code": verdict.code, "reply": verdict.reply}
        accounts.failed(self.account, f"{verdict.stage}:{verdict.code}", reason,
                        quota=verdict.quota)
        raise Stop(more=False)


def _unexpected(exc):
    return classify(Stage.END, None, _("The send stopped on an unexpected error: %r") % exc)
