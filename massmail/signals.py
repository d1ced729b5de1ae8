"""Signals a host CRM can connect to."""

from django.dispatch import Signal

# Sent after an address was unsubscribed, with ``email``, ``mailing`` (or None),
# ``channel`` ("page" or "one_click") and ``records`` (host records whose flag was cleared).
unsubscribed = Signal()

# Sent after a tracked link was followed, with ``delivery``, ``url`` (the link's target)
# and ``human`` (the verdict when the click was recorded; see massmail.tracking.verdicts).
link_clicked = Signal()
# Sent once for each human reply read from an account's mailbox (see massmail.feedback),
# with ``delivery`` (the Delivery it answers) and ``message`` (the reply, an
# email.message.EmailMessage, cut at MASSMAIL["FEEDBACK_MAX_BYTES"]). Receivers run in
# the transaction that records the reply: if one raises, the reply is not recorded.
reply_received = Signal()
