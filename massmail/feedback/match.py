"""Which delivery a feedback message is about.

First by Message-ID: every email massmail sends has its own, stored on the delivery,
and reports return it (the original message or its headers), as do replies
(In-Reply-To, References). Failing that, by address: the latest delivery that this
account sent to the address within FEEDBACK_LOOKBACK_DAYS. Only the account owner's
deliveries are candidates, so a report in one manager's mailbox never touches another's.
"""

import datetime

from ..addresses import normalise_email
from ..conf import conf
from ..models import Delivery
from .classify import REPLY, REPLY_PREFIX

# Message-IDs looked up per message: a References header can be long.
MAX_IDS = 50


def by_message_ids(ids, account):
    if not ids:
        return []
    return list(Delivery.objects.filter(message_id__in=ids[:MAX_IDS],
                                        mailing__owner_id=account.owner_id)
                .select_related("mailing"))


def latest_to(address, account, now):
    """The latest delivery ``account`` sent to ``address`` in the lookback window."""
    if not address:
        return None
    since = now - datetime.timedelta(days=conf.FEEDBACK_LOOKBACK_DAYS)
    # Every sent row was attempted: saying so lets the account's index of attempts
    # (a partial index, see Delivery.Meta) find it among the account's rows.
    return (Delivery.objects.filter(email=normalise_email(address), account=account,
                                    sent_at__gte=since, attempted_at__isnull=False)
            .select_related("mailing").order_by("-sent_at").first())


def for_failure(failure, candidates, account, now):
    """The delivery of one recipient of a report: the report's original message when
    it went to that address (or when the report is about one message only), else the
    address's latest delivery from this account."""
    address = normalise_email(failure.email).lower()
    for delivery in candidates:
        if delivery.email.lower() == address:
            return delivery
    if len(candidates) == 1:
        return candidates[0]
    return latest_to(failure.email, account, now)


def for_response(feedback, account, now):
    """The delivery an auto-reply or a reply answers: by its In-Reply-To/References,
    else (a reply subject, or an auto-reply) the sender's latest delivery."""
    candidates = by_message_ids(feedback.original_ids, account)
    if candidates:
        return candidates[0]
    if feedback.kind == REPLY and not REPLY_PREFIX.match(feedback.subject):
        return None
    return latest_to(feedback.sender, account, now)
