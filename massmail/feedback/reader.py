"""Reading the mailboxes of the accounts that have feedback on.

One reader at a time per account (a lease on the account, as for sending). Each run
examines the INBOX, fetches the messages after the stored UID under the stored
UIDVALIDITY (or, the first time and after the INBOX was recreated, those of the last
FEEDBACK_LOOKBACK_DAYS), classifies each, matches it to a delivery and records the
outcome. Progress is saved after every chunk, and recording is idempotent, so a
dropped connection or a killed worker only means some messages are read again.

No message can stop the reader: one that fails to parse or record is logged and
skipped. A mailbox that cannot be read marks the account's feedback as failing; a
refused login tells the owner once. Sending never depends on any of this.
"""

import datetime
import logging
import uuid
from collections import Counter

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from ..conf import conf
from ..models import EmailAccount
from . import classify, mailbox, match, record
from .notify import mailbox_failing

log = logging.getLogger(__name__)


def accounts_to_read():
    return list(EmailAccount.objects.filter(read_feedback=True).order_by("pk")
                .values_list("pk", flat=True))


def read_all():
    """Read every account with feedback on; {account id: Counter or None}."""
    return {pk: read_account(pk) for pk in accounts_to_read()}


def _lease(account_id, owner, now):
    free = Q(feedback_lease_until__isnull=True) | Q(feedback_lease_until__lt=now) | Q(
        feedback_lease_owner=owner)
    return EmailAccount.objects.filter(free, pk=account_id, read_feedback=True).update(
        feedback_lease_until=now + datetime.timedelta(seconds=conf.LEASE_SECONDS),
        feedback_lease_owner=owner)


def read_account(account_id):
    """Read one account's new messages; a Counter of what they were, or None when
    another reader holds the account or the mailbox could not be read."""
    owner = uuid.uuid4().hex
    if not _lease(account_id, owner, timezone.now()):
        return None
    account = EmailAccount.objects.get(pk=account_id)
    try:
        counts = _read(account, owner)
    except mailbox.MailboxError as error:
        _failing(account, error)
        return None
    finally:
        EmailAccount.objects.filter(pk=account_id, feedback_lease_owner=owner).update(
            feedback_lease_until=None, feedback_lease_owner="")
    EmailAccount.objects.filter(pk=account_id).update(
        feedback_error="", feedback_error_at=None, feedback_read_at=timezone.now())
    return counts


def _failing(account, error):
    reason = str(error)
    log.warning("Mailbox of account %s cannot be read: %s", account.pk, reason)
    EmailAccount.objects.filter(pk=account.pk).update(feedback_error=reason,
                                                      feedback_error_at=timezone.now())
    if error.authentication and account.feedback_error != reason:
        mailbox_failing(account, reason)


def _read(account, owner):
    counts = Counter()
    own = {a.lower() for a in (account.from_email, account.smtp_user, account.imap_user) if a}
    with mailbox.connect(account) as client:
        uidvalidity = mailbox.examine(client)
        after = account.feedback_last_uid if uidvalidity == account.feedback_uidvalidity else 0
        since = None if after else mailbox.lookback_date(timezone.now())
        uids = mailbox.new_uids(client, after, since)
        for index, (uid, data) in enumerate(mailbox.fetch(client, uids), start=1):
            counts[process(account, data, own)] += 1
            if index % mailbox.FETCH_CHUNK == 0 or index == len(uids):
                _progress(account, owner, uidvalidity, uid)
        if not uids:
            _progress(account, owner, uidvalidity, after)
    return counts


def _progress(account, owner, uidvalidity, last_uid):
    """Save where reading got to, and keep the lease while a big mailbox is read."""
    now = timezone.now()
    EmailAccount.objects.filter(pk=account.pk, feedback_lease_owner=owner).update(
        feedback_uidvalidity=uidvalidity, feedback_last_uid=last_uid,
        feedback_lease_until=now + datetime.timedelta(seconds=conf.LEASE_SECONDS))


def process(account, data, own_addresses=()):
    """Classify, match and record one message; returns what it was, for counting."""
    try:
        feedback = classify.classify(data, own_addresses)
        handler = HANDLERS.get(feedback.kind)
        if handler is None:
            return feedback.kind
        return handler(account, feedback, data, timezone.now())
    except DatabaseError:
        # Not the message's fault: stop before the chunk's progress is saved, so the
        # chunk is read again on the next run instead of being skipped.
        raise
    except Exception:  # one bad message must not stop the mailbox
        log.exception("Could not process a message of account %s", account.pk)
        return "error"


def _reports(account, feedback, data, now):
    """Bounces and complaints: one outcome per recipient of the report."""
    candidates = match.by_message_ids(feedback.original_ids, account)
    apply = record.bounce if feedback.kind == classify.BOUNCE else record.complaint
    matched = False
    for failure in feedback.failures:
        delivery = match.for_failure(failure, candidates, account, now)
        if delivery is not None:
            apply(delivery, failure, feedback, data, now)
            matched = True
    return feedback.kind if matched else f"{feedback.kind}_unmatched"


def _auto_reply(account, feedback, data, now):
    delivery = match.for_response(feedback, account, now)
    if delivery is None:
        return f"{feedback.kind}_unmatched"
    record.auto_reply(delivery, now)
    return feedback.kind


def _reply(account, feedback, data, now):
    delivery = match.for_response(feedback, account, now)
    if delivery is None:
        return classify.OTHER
    record.reply(delivery, feedback, data, now)
    return feedback.kind


HANDLERS = {
    classify.BOUNCE: _reports,
    classify.COMPLAINT: _reports,
    classify.AUTO_REPLY: _auto_reply,
    classify.REPLY: _reply,
}
