"""Telling an account's owner that its mailbox cannot be read, once per failure.

Sent through the host's own email settings, like every notice (see
massmail.sending.notify): a notice about a broken account must not depend on it.
"""

from django.utils.translation import gettext as _

from ..sending.notify import tell


def mailbox_failing(account, reason):
    tell(
        account.owner,
        _("Mailbox feedback failing: %(account)s") % {"account": account},
        _("massmail cannot read the mailbox of %(account)s, so bounces, complaints and replies "
          "sent to it are not recorded:\n\n%(reason)s\n\nSending is not affected. Ask an "
          "administrator to correct the IMAP settings; reading resumes by itself.")
        % {"account": account, "reason": reason},
    )
