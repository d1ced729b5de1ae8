"""Signals a host CRM can connect to."""

from django.dispatch import Signal

# Sent after an address was unsubscribed, with ``email``, ``mailing`` (or None),
# ``channel`` ("page" or "one_click") and ``records`` (host records whose flag was cleared).
unsubscribed = Signal()

# Sent after a tracked link was followed, with ``delivery``, ``url`` (the link's target)
# and ``human`` (the verdict when the click was recorded; see massmail.tracking.verdicts).
link_clicked = Signal()
