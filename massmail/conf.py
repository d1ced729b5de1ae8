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
    # Most deliveries one batch claims in one round; a batch stops after
    # BATCH_MAX_SECONDS and queues its continuation behind the batches of every other
    # (mailing, account) pair: this is the quantum of fair sharing between mailings.
    "BATCH_SIZE": 200,
    "BATCH_MAX_SECONDS": 10,
    # Rows a batch marks `sending` in one commit before sending them one by one. Larger
    # is faster; after a worker crash up to this many rows may become `unknown`.
    "SENDING_GROUP": 10,
    # How long a batch holds its rows and its account without renewing. A running batch
    # renews both (a heartbeat) every third of this, so a killed worker's rows are taken
    # back within about this long, and a slow batch never loses its account.
    "LEASE_SECONDS": 60,
    # Attempts for temporary failures (4xx, dropped connection) before a row fails,
    # and the waits in seconds between them (the last one repeats).
    "MAX_ATTEMPTS": 4,
    "RETRY_DELAYS": [300, 1800, 7200],
    # SMTP socket timeout in seconds, and the deadline of one whole transaction (opening
    # a session, or MAIL to the reply after the data): a server that trickles its reply
    # cannot hold a batch. Keep it under half of LEASE_SECONDS.
    "SMTP_TIMEOUT": 30,
    "SMTP_TRANSACTION_SECONDS": 25,
    # Dotted path of the transport class (massmail.sending.transport.Transport).
    "TRANSPORT": "massmail.sending.smtp.Connection",
    # Circuit breaker: this many unknown outcomes or lost connections in a row pause the
    # account, so a broken relay never burns a list.
    "BREAKER_THRESHOLD": 5,
    # The same account-level failure (login, quota, refused sender, breaker) this many
    # times in a row disables the account and tells its owner: a pause never loops for
    # ever. Policy refusals (5.7.x) of this many recipients in a row do the same.
    "ACCOUNT_FAILURE_LIMIT": 5,
    "POLICY_FAILURE_LIMIT": 10,
    # Default of MassmailSettings.emails_per_day for a new installation.
    "EMAILS_PER_DAY": 500,
    # Celery queue of the massmail tasks; None uses Celery's default queue.
    "CELERY_QUEUE": None,
    # Queue a mailing's first batches (and a dispatch) through Celery right after it is
    # activated, so its first emails leave within seconds. Turn off when no broker runs
    # and `massmail_send --forever` does the sending.
    "DISPATCH_ON_ACTIVATE": True,
    # OAuth2 app registrations per provider ("microsoft", "google"): client_id,
    # client_secret, tenant (Microsoft); endpoints and scopes default to the real
    # providers' (massmail/oauth/providers.py) and can be overridden.
    "OAUTH_PROVIDERS": {},
    # The redirect URI registered with the providers; None: SITE_URL followed by the
    # path of the massmail:oauth_callback view.
    "OAUTH_REDIRECT_URI": None,
    # Names of existing host groups that get massmail's manager permissions (see
    # permissions.py). Empty: massmail creates and keeps its own "Sales managers" group.
    "MANAGER_GROUPS": [],
    # Dotted path of a function (user) -> queryset of users whose mailings, messages,
    # deliveries and reports the user may view (a team lead's team). None: the user
    # alone. Superusers see everyone; changing, activating and sending stay the owner's.
    "OWNER_SCOPE": None,
    # Largest message (HTML content and signature plus attachments, in bytes) that may be
    # saved or sent; every recipient gets all of it.
    "MAX_MESSAGE_BYTES": 10 * 1024 * 1024,
    # Click tracking (messages with "Track link clicks"): a click this many seconds or
    # less after the email was sent is a machine's (mail gateways scan on arrival).
    "CLICK_MIN_SECONDS": 10,
    # This many different links of one email followed within CLICK_BURST_SECONDS are
    # a scanner's, not a person's.
    "CLICK_BURST_LINKS": 3,
    "CLICK_BURST_SECONDS": 2,
    # Clicks of an email this many seconds around the hidden honeypot link's are the
    # same scanner's visit.
    "CLICK_HONEYPOT_SECONDS": 60,
    # Read a record's email field as a list of addresses separated by commas or
    # semicolons ("a@x.org, b@y.org"), each its own delivery. On by default: CRMs let
    # users type several addresses into one field, and no address one would mail holds
    # a comma or semicolon. Off treats such a value as one (invalid) address.
    "SPLIT_ADDRESS_FIELDS": True,
    # Above this many records, the admin's "Create mailing" creates the mailing in the
    # background (a Celery task, or the `massmail_send --forever` loop without Celery):
    # the mailing shows "being created" with its progress and is activated when ready.
    "CREATE_IN_BACKGROUND_ABOVE": 20_000,
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
