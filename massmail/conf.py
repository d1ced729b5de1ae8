"""The ``MASSMAIL`` settings dict, read through one object.

Every key has a documented default here. Values are read on each access, so
``override_settings(MASSMAIL={...})`` works in tests; keys that are not given keep
their default.
"""

from django.conf import settings

DEFAULTS = {
    # Dotted paths of RecipientSource subclasses, one per host recipient model.
    "RECIPIENT_SOURCES": [],
    # Absolute base URL of links in emails (unsubscribe). Not taken from requests, so
    # only the unsubscribe path needs to be reachable from the internet.
    "SITE_URL": "http://127.0.0.1:8000",
    # Fernet keys for SMTP passwords at rest, newest first; older keys still decrypt.
    "ENCRYPTION_KEYS": [],
    # Seconds between two runs of the dispatch task by Celery beat.
    "DISPATCH_INTERVAL": 60,
    # Most deliveries one batch claims; a batch also stops after BATCH_MAX_SECONDS,
    # which keeps it far inside the broker's visibility timeout.
    "BATCH_SIZE": 200,
    "BATCH_MAX_SECONDS": 120,
    # Rows a batch marks `sending` in one commit before sending them one by one. Larger
    # is faster; after a worker crash up to this many rows may become `unknown`.
    "SENDING_GROUP": 10,
    # How long a claimed batch may hold its rows before another worker may recover them.
    "LEASE_SECONDS": 600,
    # Attempts for temporary failures (4xx, dropped connection) before a row fails,
    # and the waits in seconds between them (the last one repeats).
    "MAX_ATTEMPTS": 4,
    "RETRY_DELAYS": [300, 1800, 7200],
    # SMTP socket timeout in seconds.
    "SMTP_TIMEOUT": 30,
    # Default of MassmailSettings.emails_per_day for a new installation.
    "EMAILS_PER_DAY": 500,
    # Celery queue of the massmail tasks; None uses Celery's default queue.
    "CELERY_QUEUE": None,
    # Trigger a dispatch through Celery right after a mailing is activated. Turn off
    # when no broker runs and `massmail_send --forever` does the sending.
    "DISPATCH_ON_ACTIVATE": True,
    # Mailbox feedback (massmail.feedback): on an account's first read, or after its
    # INBOX was recreated (UIDVALIDITY changed), only messages of the last this many days.
    "FEEDBACK_LOOKBACK_DAYS": 30,
    # Seconds between two runs of the read_mailboxes task by Celery beat.
    "FEEDBACK_INTERVAL": 300,
    # Bytes of one mailbox message that are read: a report's headers and status parts
    # come first, so a huge attachment is never downloaded.
    "FEEDBACK_MAX_BYTES": 256 * 1024,
    # Bytes of a bounce or complaint report kept for the owner to read.
    "FEEDBACK_RAW_BYTES": 32 * 1024,
    # Soft bounces (4.x.x) of one address within this many days that suppress it.
    "FEEDBACK_SOFT_BOUNCES": 3,
    "FEEDBACK_SOFT_BOUNCE_DAYS": 14,
}


class MassmailConf:
    """Attribute access to ``settings.MASSMAIL`` with DEFAULTS filled in."""

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown MASSMAIL setting {name!r}")
        return getattr(settings, "MASSMAIL", {}).get(name, DEFAULTS[name])


conf = MassmailConf()
