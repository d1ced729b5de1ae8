"""Telling a manager what happened to their mailing or account, by email.

Uses the host project's own Django email settings (EMAIL_BACKEND), not the manager's
SMTP accounts: a notice that an account is broken must not depend on that account.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


def tell(user, subject, body):
    if not user.email:
        log.info("No address to notify user %s: %s", user.pk, subject)
        return
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:  # a notice must never break sending
        log.exception("Could not notify %s: %s", user.email, subject)


def mailing_done(mailing, counts):
    tell(
        mailing.owner,
        _("Mailing finished: %(name)s") % {"name": mailing},
        _("Your mailing %(name)s has finished.\n\nSent: %(sent)d\nFailed: %(failed)d\n"
          "Skipped: %(skipped)d\nUnknown: %(unknown)d\n")
        % {"name": mailing, **counts},
    )


def mailing_interrupted(mailing, reason):
    tell(mailing.owner, _("Mailing interrupted: %(name)s") % {"name": mailing}, reason)


def account_disabled(account, reason):
    tell(
        account.owner,
        _("Email account disabled: %(account)s") % {"account": account},
        _("massmail stopped sending through %(account)s because the server refused it:\n\n"
          "%(reason)s\n\nAsk an administrator to correct the account and re-enable it. Its "
          "recipients wait or go through your other accounts.") % {"account": account,
                                                                    "reason": reason},
    )
