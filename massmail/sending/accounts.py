"""What failures do to an account: pause it, escalate, disable it; a success forgives.

A pause never loops silently for ever: the same account-level failure (a refused
login aside, which disables at once) pauses the account for longer each time, and the
ACCOUNT_FAILURE_LIMIT-th time in a row disables it and tells its owner. Policy
refusals (5.7.x) fail only their row, but POLICY_FAILURE_LIMIT of them in a row mean
the account's reputation is the problem. The circuit breaker counts unknown outcomes
and lost connections in a row: BREAKER_THRESHOLD of them pause the account, so a relay
that resets every connection never turns a list into ``unknown`` rows.
"""

import datetime
import logging

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import conf
from ..models import EmailAccount
from . import notify

log = logging.getLogger(__name__)

QUOTA_PAUSE = datetime.timedelta(hours=1)
PAUSE = datetime.timedelta(minutes=5)


def disable(account, reason):
    now = timezone.now()
    EmailAccount.objects.filter(pk=account.pk).update(
        disabled_at=now, disabled_reason=reason, last_error=reason, last_error_at=now)
    account.disabled_at, account.disabled_reason = now, reason
    log.warning("Account %s disabled: %s", account.pk, reason)
    notify.account_disabled(account, reason)


def failed(account, kind, reason, *, quota=False):
    """An account-level failure of ``kind``: pause the account, longer each time the
    same kind repeats, and disable it at the limit."""
    streak = account.failure_streak + 1 if account.failure_kind == kind else 1
    if streak >= conf.ACCOUNT_FAILURE_LIMIT:
        disable(account, _("The same failure %(count)d times in a row: %(reason)s")
                % {"count": streak, "reason": reason})
        streak = 0
    now = timezone.now()
    paused_until = now + (QUOTA_PAUSE if quota else PAUSE) * 2 ** max(streak - 1, 0)
    EmailAccount.objects.filter(pk=account.pk).update(
        paused_until=paused_until, last_error=reason, last_error_at=now,
        failure_kind=kind, failure_streak=streak, breaker_streak=0)
    account.failure_kind, account.failure_streak, account.breaker_streak = kind, streak, 0
    account.paused_until = paused_until
    log.warning("Account %s paused until %s: %s", account.pk, paused_until, reason)


def policy_refused(account, reason):
    """A recipient refused by policy. True when the account was disabled for it."""
    account.policy_streak += 1
    if account.policy_streak >= conf.POLICY_FAILURE_LIMIT:
        disable(account, _("%(count)d recipients in a row were refused by policy; the last "
                           "reply: %(reason)s") % {"count": account.policy_streak, "reason": reason})
        return True
    EmailAccount.objects.filter(pk=account.pk).update(policy_streak=F("policy_streak") + 1)
    return False


def doubtful(account, reason):
    """An unknown outcome or a lost connection. True when the breaker tripped."""
    account.breaker_streak += 1
    if account.breaker_streak >= conf.BREAKER_THRESHOLD:
        failed(account, "breaker", _("Circuit breaker: %(count)d unknown outcomes or lost "
                                     "connections in a row; the last: %(reason)s")
               % {"count": account.breaker_streak, "reason": reason})
        return True
    EmailAccount.objects.filter(pk=account.pk).update(breaker_streak=F("breaker_streak") + 1)
    return False


def succeeded(account):
    """An email was accepted: every streak starts again (one write, and only when one
    was running)."""
    if account.failure_streak or account.policy_streak or account.breaker_streak:
        EmailAccount.objects.filter(pk=account.pk).update(
            failure_kind="", failure_streak=0, policy_streak=0, breaker_streak=0)
        account.failure_kind, account.failure_streak = "", 0
        account.policy_streak = account.breaker_streak = 0
