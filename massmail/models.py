"""massmail's tables. The host CRM's schema is never changed: per-record state lives in
Recipient, and every address of a mailing is one Delivery row (the outbox and the log).
"""

import datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import freezing
from .addresses import key_expression, normalise_email
from .conf import conf
from .crypto import EncryptedTextField
from .merge_fields import validate_message, validate_template
from .message_size import validate_message_size
from .scopes import scope_filter
from .settings_values import (
    repaired_time_zone,
    repaired_weekdays,
    validate_time_zone,
    validate_weekdays,
)


class OwnedQuerySet(models.QuerySet):
    def owned_by(self, user):
        """What ``user`` may see: everything for a superuser, else their own objects."""
        if user.is_superuser:
            return self
        return self.filter(owner=user)

    def visible_to(self, user):
        """What ``user`` may view: ``owned_by`` plus their team scope (scopes.py)."""
        if user.is_superuser:
            return self
        return self.filter(scope_filter(user))


class AuthMethod(models.TextChoices):
    PASSWORD = "password", _("password")
    MICROSOFT = "microsoft", _("Microsoft 365 (OAuth2)")
    GOOGLE = "google", _("Google (OAuth2)")


class EmailAccount(models.Model):
    AuthMethod = AuthMethod

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="massmail_accounts",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    from_email = models.EmailField(_("from address"))
    smtp_host = models.CharField(_("SMTP host"), max_length=255)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_user = models.CharField(_("SMTP user"), max_length=255, blank=True)
    password = EncryptedTextField(_("SMTP password"), blank=True)
    use_tls = models.BooleanField(_("use STARTTLS"), default=True)
    use_ssl = models.BooleanField(_("use implicit TLS"), default=False)
    main = models.BooleanField(
        _("main account"), default=False,
        help_text=_("The manager's main business mailbox: mailings send only to VIP "
                    "recipients through it."),
    )
    massmail = models.BooleanField(
        _("use for mailings"), default=True,
        help_text=_("Mailings may send through this account."),
    )
    daily_limit = models.PositiveIntegerField(
        _("daily limit"), null=True, blank=True,
        help_text=_("Emails in any 24 hours. Empty: the Massmail Settings value."),
    )
    hourly_limit = models.PositiveIntegerField(_("hourly limit"), null=True, blank=True)
    minute_limit = models.PositiveIntegerField(_("per-minute limit"), null=True, blank=True)
    disabled_reason = models.TextField(_("disabled because"), blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    paused_until = models.DateTimeField(
        _("paused until"), null=True, blank=True,
        help_text=_("Set when the provider reports a sending quota or the server is unreachable."),
    )
    last_error = models.TextField(_("last error"), blank=True)
    # One batch at a time per account: one SMTP connection to the provider, in order.
    batch_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    batch_lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    batch_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Failures in a row, for escalation (see sending/accounts.py): the same account-level
    # failure, policy refusals, and unknown outcomes or lost connections (the breaker).
    failure_kind = models.CharField(max_length=20, blank=True, editable=False)
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    policy_streak = models.PositiveIntegerField(default=0, editable=False)
    breaker_streak = models.PositiveIntegerField(default=0, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    from_name = models.CharField(
        _("sender name"), max_length=100, blank=True,
        help_text=_("Shown in From beside the address, for example the manager's name."),
    )
    auth_method = models.CharField(
        _("sign-in method"), max_length=10, choices=AuthMethod.choices, default=AuthMethod.PASSWORD,
    )
    # Mailbox feedback (bounces, complaints, replies) read over IMAP; empty host, user
    # and password fall back to the SMTP ones.
    read_feedback = models.BooleanField(
        _("read mailbox feedback"), default=False,
        help_text=_("Read bounces, complaints and replies from this account's inbox (read-only)."),
    )
    imap_host = models.CharField(_("IMAP host"), max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_use_ssl = models.BooleanField(
        _("IMAP over implicit TLS"), default=True, help_text=_("Off: STARTTLS when offered."),
    )
    imap_user = models.CharField(_("IMAP user"), max_length=255, blank=True)
    imap_password = EncryptedTextField(_("IMAP password"), blank=True)
    # OAuth2 sign-in (auth_method microsoft/google), set by "Connect" (massmail/oauth/):
    # the refresh token, encrypted like passwords, and the mailbox it belongs to.
    oauth_refresh_token = EncryptedTextField(_("OAuth2 refresh token"), blank=True, editable=False)
    oauth_address = models.EmailField(
        _("connected mailbox"), blank=True, editable=False,
        help_text=_("The mailbox the provider signed in; it logs in to SMTP and IMAP."),
    )
    oauth_connected_at = models.DateTimeField(_("connected at"), null=True, blank=True,
                                              editable=False)
    # Where the feedback reader stopped: the INBOX's UIDVALIDITY and the last UID read
    # under it; a lease so one reader at a time holds the account's mailbox; the failure
    # (wrong password, server down) that stops reading, told to the owner once.
    feedback_uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    feedback_last_uid = models.BigIntegerField(default=0, editable=False)
    feedback_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    feedback_lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    feedback_read_at = models.DateTimeField(_("mailbox last read"), null=True, blank=True)
    feedback_error = models.TextField(_("mailbox reading fails because"), blank=True)
    feedback_error_at = models.DateTimeField(_("mailbox failing since"), null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("email account")
        verbose_name_plural = _("email accounts")
        ordering = ["owner_id", "-main", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=Q(main=True), name="massmail_one_main_account_per_owner"
            ),
            models.CheckConstraint(
                condition=~(Q(use_tls=True) & Q(use_ssl=True)),
                name="massmail_account_tls_or_ssl",
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.from_email}>"

    def effective_daily_limit(self, settings_obj=None):
        if self.daily_limit is not None:
            return self.daily_limit
        return (settings_obj or MassmailSettings.load()).emails_per_day


class Signature(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="massmail_signatures",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    content = models.TextField(_("content"), help_text=_("HTML"))
    default = models.BooleanField(_("default"), default=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["owner_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"], condition=Q(default=True),
                name="massmail_one_default_signature_per_owner",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        freezing.check_signature(self)
        super().save(*args, **kwargs)

    def clean(self):
        """Refuse unknown merge fields and template tags, on the admin form."""
        super().clean()
        try:
            validate_template(self.content)
            freezing.check_signature(self)
        except ValidationError as error:
            raise ValidationError({"content": error.error_list}) from None
        except freezing.MessageFrozen as error:
            raise ValidationError({"content": str(error)}) from None


class Message(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="massmail_messages",
        verbose_name=_("owner"),
    )
    subject = models.CharField(_("subject"), max_length=255)
    content = models.TextField(
        _("content"), help_text=_("HTML with merge fields such as {{ first_name }}; it must "
                                  "contain {{ unsubscribe_url }}."),
    )
    signature = models.ForeignKey(
        Signature, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("signature"),
    )
    track_clicks = models.BooleanField(
        _("track link clicks"), default=False,
        help_text=_("Rewrite links to count clicks per recipient. Ask for consent where the law "
                    "requires it."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("email message")
        verbose_name_plural = _("email messages")
        ordering = ["-updated_at"]

    def __str__(self):
        return self.subject

    def save(self, *args, **kwargs):
        freezing.check_message(self)
        super().save(*args, **kwargs)

    def clean(self):
        """Refuse unknown merge fields, template tags and a content without
        {{ unsubscribe_url }}; errors are shown on the subject, content and signature."""
        super().clean()
        try:
            freezing.check_message(self)
        except freezing.MessageFrozen as error:
            raise ValidationError(str(error)) from None
        validate_message(self)
        validate_message_size(self)


def attachment_path(instance, filename):
    return f"massmail/attachments/{instance.message_id}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message"),
    )
    file = models.FileField(_("file"), upload_to=attachment_path)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.file.name.rpartition("/")[2]

    def save(self, *args, **kwargs):
        freezing.check_attachment(self)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        freezing.check_attachment(self)
        return super().delete(*args, **kwargs)


class Mailing(models.Model):
    class Status(models.TextChoices):
        PAUSED = "paused", _("paused")
        ACTIVE = "active", _("active")
        INTERRUPTED = "interrupted", _("interrupted")
        DONE = "done", _("done")
        # Deliveries are still being written in the background (see MailingCreation).
        CREATING = "creating", _("being created")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="massmail_mailings",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    # RESTRICT, not PROTECT: a message in use cannot be deleted on its own, but deleting
    # its manager deletes both their mailings and their messages.
    message = models.ForeignKey(Message, on_delete=models.RESTRICT, verbose_name=_("message"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PAUSED, db_index=True,
    )
    start_at = models.DateTimeField(
        _("start at"), null=True, blank=True, help_text=_("Not before this time."),
    )
    excluded = models.JSONField(
        _("excluded at creation"), default=dict, blank=True,
        help_text=_("Records left out when the mailing was created, counted by reason."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    status_reason = models.TextField(
        _("status reason"), blank=True, help_text=_("Why the mailing was interrupted."),
    )

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at"]

    def __str__(self):
        return self.name or f"{self.message} ({self.created_at:%Y-%m-%d})"


class Recipient(models.Model):
    """massmail's state of one host CRM record: VIP flag and sticky sending account."""

    # Creating a mailing writes a Recipient row per new record, so both foreign keys are
    # cheap to write. No database constraint (Django applies on_delete itself, in Python,
    # either way): PostgreSQL would check both keys row by row at commit, and a
    # million-row creation took 23.7-32.0 s with those checks, 18.5-23.7 s without
    # (benchmarks/scale.py). The content type is one massmail just looked up;
    # an account id routing wrote for an account deleted meanwhile is not one of the
    # usable accounts, so routing replaces it. No index of its own for the content type
    # (the unique (content_type, object_id) index serves it), and the account's index
    # holds only rows that have one.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, db_index=False,
                                     db_constraint=False)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    vip = models.BooleanField(_("VIP"), default=False)
    account = models.ForeignKey(
        EmailAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False,
        verbose_name=_("sending account"),
        help_text=_("Every mailing reaches this recipient from the same account."),
    )

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id"], name="massmail_one_recipient_per_record"
            ),
        ]
        indexes = [
            models.Index(fields=["account"], name="massmail_recipient_account_idx",
                         condition=models.Q(account__isnull=False)),
        ]

    def __str__(self):
        return f"{self.content_type.model} #{self.object_id}"


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        CLAIMED = "claimed", _("claimed")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")
        UNKNOWN = "unknown", _("unknown")

    class SkipReason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        SUPPRESSED = "suppressed", _("suppressed")
        HOST_UNSUBSCRIBED = "host_unsubscribed", _("not subscribed in the CRM")
        NOT_ELIGIBLE = "not_eligible", _("not eligible")
        RECORD_DELETED = "record_deleted", _("record deleted")
        OWNER_CHANGED = "owner_changed", _("owner changed")
        INVALID_ADDRESS = "invalid_address", _("invalid address")
        ADDRESS_CHANGED = "address_changed", _("address changed in the CRM")
        NEEDS_SMTPUTF8 = "needs_smtputf8", _("address needs SMTPUTF8, not offered by the server")

    class Bounce(models.TextChoices):
        HARD = "hard", _("hard")
        SOFT = "soft", _("soft")

    # The mailing and account columns have no single-column index (fewer indexes, faster
    # creation): the claim index starts with the mailing, and the account-window index
    # with the account, for the rows an account attempted. Deleting an account (which
    # sets its rows' account to NULL) reads the table once, a rare admin action.
    mailing = models.ForeignKey(
        Mailing, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("mailing"),
        db_index=False,
    )
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, related_name="deliveries",
        verbose_name=_("recipient"),
    )
    email = models.EmailField(_("email"), max_length=254)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
    )
    account = models.ForeignKey(
        EmailAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries",
        verbose_name=_("account"), db_index=False,
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    lease_owner = models.CharField(_("claimed by"), max_length=64, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(_("SMTP code"), null=True, blank=True)
    smtp_reply = models.TextField(_("SMTP reply or error"), blank=True)
    skip_reason = models.CharField(
        _("skip reason"), max_length=20, choices=SkipReason.choices, blank=True,
    )
    # Mailbox feedback (see massmail.feedback): what came back after the server took it.
    bounce = models.CharField(_("bounce"), max_length=4, choices=Bounce.choices, blank=True)
    bounce_status = models.CharField(_("bounce status"), max_length=16, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    complained_at = models.DateTimeField(_("complained"), null=True, blank=True)
    auto_replied_at = models.DateTimeField(_("auto-replied"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["id"]
        constraints = [
            # One row per address, compared by its key (addresses.address_key): the
            # address is stored as written, "Ann@x.org" and "ann@x.org" are one person.
            # The key comes first, so this index also finds every delivery to an
            # address in any letter case (unsubscribes, feedback): a second index on the
            # key would cost mailing creation a random insert per row.
            models.UniqueConstraint(
                key_expression("email"), models.F("mailing"),
                name="massmail_one_delivery_per_address",
            ),
        ]
        # The last three are partial: they hold only the rows they are asked about, so
        # a row waiting to be sent (no attempt, no lease, no Message-ID) costs them
        # nothing, and creating a mailing of a million rows writes four indexes, not seven.
        indexes = [
            # Claiming: pending rows of a mailing, per account.
            models.Index(fields=["mailing", "status", "account"], name="massmail_claim_idx"),
            # Limits: an account's attempts in a rolling window (claimed rows, which count
            # too, are found by the lease index).
            models.Index(fields=["account", "attempted_at"], name="massmail_account_window_idx",
                         condition=models.Q(attempted_at__isnull=False)),
            # Leases: a batch's rows, and rows a stopped worker left behind.
            models.Index(fields=["status", "lease_until"], name="massmail_lease_idx",
                         condition=models.Q(status__in=["claimed", "sending"])),
            # Mailbox feedback: a report names the Message-ID it is about.
            models.Index(fields=["message_id"], name="massmail_delivery_msgid_idx",
                         condition=~models.Q(message_id="")),
        ]

    def __str__(self):
        return f"{self.email} ({self.get_status_display()})"

    def save(self, *args, **kwargs):
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)


class BatchTicket(models.Model):
    """A batch of (mailing, account) queued on the broker and not yet started, so that
    dispatch never queues a second one while workers are backlogged."""

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(EmailAccount, on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField()
    # Queued by a batch that stopped with work left. Any other ticket is a pair waiting
    # for its turn (a mailing just activated, an account whose limit reset): running
    # batches make way for it (sending/tickets.py).
    continuation = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailing", "account"], name="massmail_one_ticket_per_pair"),
        ]

    def __str__(self):
        return f"mailing {self.mailing_id} / account {self.account_id} ({self.queued_at})"


class EarlierAttempt(models.Model):
    """An attempt whose row was attempted again later (a retry or a resend).

    A Delivery keeps only its latest ``attempted_at``; limits count these too, so retries
    never let an account exceed its hourly or per-minute limit."""

    account = models.ForeignKey(EmailAccount, on_delete=models.CASCADE, related_name="+")
    attempted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "attempted_at"], name="massmail_earlier_idx")]

    def __str__(self):
        return f"account {self.account_id} at {self.attempted_at}"


class Suppression(models.Model):
    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
        BOUNCED = "bounced", _("bounced")
        COMPLAINED = "complained", _("complained")
        MANUAL = "manual", _("added manually")
        REPLY = "reply", _("asked in a reply")

    class Channel(models.TextChoices):
        PAGE = "page", _("unsubscribe page")
        ONE_CLICK = "one_click", _("one-click (mail client)")
        SMTP = "smtp", _("SMTP reply")
        ADMIN = "admin", _("admin")
        MAILBOX = "mailbox", _("mailbox feedback")

    email = models.EmailField(_("email"), max_length=254)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    channel = models.CharField(_("source"), max_length=10, choices=Channel.choices, blank=True)
    mailing = models.ForeignKey(
        Mailing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("from mailing"),
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]
        constraints = [
            # One row per address key: "Ann@x.org" and "ann@x.org" are one address.
            models.UniqueConstraint(key_expression("email"), name="massmail_one_suppression_per_address"),
        ]

    def __str__(self):
        return f"{self.email} ({self.get_reason_display()})"

    def save(self, *args, **kwargs):
        self.email = normalise_email(self.email)
        super().save(*args, **kwargs)


def default_business_days():
    return [0, 1, 2, 3]  # Monday to Thursday


def default_emails_per_day():
    return conf.EMAILS_PER_DAY


def default_time_zone():
    return settings.TIME_ZONE


class MassmailSettings(models.Model):
    """The one row of installation-wide settings, edited by superusers."""

    WEEKDAYS = [
        (0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")),
        (4, _("Friday")), (5, _("Saturday")), (6, _("Sunday")),
    ]
    # The former default of unsubscribe_url (migration 0003 empties it; W011 warns).
    DEFAULT_UNSUBSCRIBE_URL = "https://example.com/unsubscribed/"

    emails_per_day = models.PositiveIntegerField(
        _("emails per day per account"), default=default_emails_per_day,
        validators=[MinValueValidator(1)],
        help_text=_("Daily limit of an account that has none of its own."),
    )
    use_business_time = models.BooleanField(
        _("send only in working hours"), default=True,
        help_text=_("Off: mailings send at any time of day, on any day."))
    business_time_start = models.TimeField(
        _("working hours start"), default=datetime.time(8, 30),
        help_text=_("Local time in the time zone below when sending may begin."))
    business_time_end = models.TimeField(
        _("working hours end"), default=datetime.time(17, 30),
        help_text=_("Local time when sending stops; must be after the start."))
    business_days = models.JSONField(
        _("working days"), default=default_business_days, validators=[validate_weekdays],
        help_text=_("Weekdays on which mailings send."),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone,
        validators=[validate_time_zone],
        help_text=_("The time zone of the working hours, for example Europe/Berlin."))
    unsubscribe_url = models.URLField(
        _("page after unsubscribing"), blank=True,
        help_text=_("Your own page telling the recipient they have been unsubscribed. "
                    "Empty: a simple page of massmail says so."),
    )
    postal_address = models.TextField(
        _("postal address"), blank=True,
        help_text=_("Your company's postal address, available as {{ postal_address }}."),
    )
    company_name = models.CharField(
        _("sender name"), max_length=200, blank=True,
        help_text=_("Your company's name, shown to recipients on the unsubscribe page."),
    )

    class Meta:
        verbose_name = _("Massmail Settings")
        verbose_name_plural = _("Massmail Settings")

    def __str__(self):
        return str(_("Massmail Settings"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls):
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def for_request(cls, request):
        """``load()``, once per request: pages that need the settings in many places
        (each row of a list) read the row once."""
        if not hasattr(request, "_massmail_settings"):
            request._massmail_settings = cls.load()
        return request._massmail_settings

    @classmethod
    def from_db(cls, db, field_names, values):
        """A row saved before its values were validated (a time zone "Berlin", weekday
        7) is repaired on reading, for every reader: see settings_values."""
        obj = super().from_db(db, field_names, values)
        if "time_zone" in obj.__dict__:
            obj.time_zone = repaired_time_zone(obj.time_zone)
        if "business_days" in obj.__dict__:
            obj.business_days = repaired_weekdays(obj.business_days)
        return obj

    def clean(self):
        super().clean()
        if (self.use_business_time and self.business_time_start and self.business_time_end
                and self.business_time_end <= self.business_time_start):
            raise ValidationError({"business_time_end": _(
                "Working hours must end after they start (on the same day).")})

    def page_after_unsubscribing(self):
        """Where a recipient goes after unsubscribing on the page: ``unsubscribe_url``,
        or massmail's own page when it is empty. Absolute, so emails may carry it too."""
        if self.unsubscribe_url:
            return self.unsubscribe_url
        return conf.SITE_URL.rstrip("/") + reverse("massmail:unsubscribed")


class TrackedLink(models.Model):
    """One link of one message version whose clicks are counted (DESIGN 12).

    Rows are written once per message version when the message is prepared for sending;
    the redirect only ever answers with ``url`` of a row, so it is never an open redirect.
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="tracked_links", verbose_name=_("message"),
    )
    # SHA-256 of the HTML (content and signature) the links were taken from.
    version = models.CharField(_("message version"), max_length=64)
    position = models.PositiveIntegerField(_("position"))
    url = models.TextField(_("URL"))
    # The hidden link no person sees: whoever follows it is a machine.
    honeypot = models.BooleanField(_("honeypot"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracked link")
        verbose_name_plural = _("tracked links")
        ordering = ["message_id", "version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "version", "position"],
                                    name="massmail_one_link_per_position"),
        ]

    def __str__(self):
        return self.url


class Click(models.Model):
    """One followed tracked link, with a human or machine verdict. No IP address or user
    agent is stored: only the verdict and a coarse reason."""

    class Reason(models.TextChoices):
        HUMAN = "", _("human")
        PREFETCH = "prefetch", _("HEAD or prefetch request")
        TOO_SOON = "too_soon", _("too soon after sending")
        HONEYPOT = "honeypot", _("hidden link followed")
        BURST = "burst", _("many links at once")
        CRAWLER = "crawler", _("crawler user agent")

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("delivery"),
    )
    link = models.ForeignKey(
        TrackedLink, on_delete=models.CASCADE, related_name="clicks", verbose_name=_("link"),
    )
    clicked_at = models.DateTimeField(_("clicked"), default=timezone.now)
    human = models.BooleanField(_("human"))
    reason = models.CharField(_("machine because"), max_length=10, choices=Reason.choices,
                              blank=True)

    class Meta:
        verbose_name = _("click")
        verbose_name_plural = _("clicks")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["delivery", "clicked_at"], name="massmail_click_delivery_idx"),
        ]

    def __str__(self):
        return f"{self.link} ({self.clicked_at:%Y-%m-%d %H:%M})"

class MailingCreation(models.Model):
    """A mailing whose deliveries are being created in the background (massmail.creation).

    It holds the pickled queries of the host querysets (pickles of ``QuerySet.query``
    are what Django documents for re-creating a queryset later; they are written and
    read by massmail only, and live only until the mailing is ready), how far creation
    got (the queryset at ``position``, records after ``last_pk``), and the progress in
    records. The row is deleted when the mailing is ready (paused).
    """

    mailing = models.OneToOneField(
        Mailing, on_delete=models.CASCADE, primary_key=True, related_name="creation",
        verbose_name=_("mailing"),
    )
    queries = models.BinaryField(_("queries"))
    skip_already_received = models.BooleanField(_("skip already received"), default=False)
    position = models.PositiveSmallIntegerField(_("queryset"), default=0)
    last_pk = models.BigIntegerField(_("last record"), null=True, blank=True)
    total = models.PositiveIntegerField(_("records"), default=0)
    done = models.PositiveIntegerField(_("records processed"), default=0)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)

    class Meta:
        verbose_name = _("mailing creation")
        verbose_name_plural = _("mailing creations")

    def __str__(self):
        return f"{self.mailing}: {self.done}/{self.total}"

class FeedbackReport(models.Model):
    """A bounce or complaint report read from an account's mailbox, kept so the owner can
    see why an address was suppressed. Soft bounces are kept too: three of them in
    FEEDBACK_SOFT_BOUNCE_DAYS suppress the address. ``report_id`` (the report's own
    Message-ID, or a digest of its headers) makes re-reading the mailbox harmless."""

    class Kind(models.TextChoices):
        HARD_BOUNCE = "hard", _("hard bounce")
        SOFT_BOUNCE = "soft", _("soft bounce")
        COMPLAINT = "complaint", _("complaint")

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="feedback_reports",
        verbose_name=_("delivery"),
    )
    email = models.EmailField(_("email"), max_length=254)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status code"), max_length=16, blank=True)
    diagnostic = models.TextField(_("diagnostic"), blank=True)
    report_id = models.CharField(_("report Message-ID"), max_length=255)
    raw = models.TextField(_("raw report"), blank=True,
                           help_text=_("The start of the report as received."))
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("feedback report")
        verbose_name_plural = _("feedback reports")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "report_id"],
                                    name="massmail_one_report_per_delivery"),
        ]
        indexes = [models.Index(fields=["email", "kind", "received_at"],
                                name="massmail_report_email_idx")]

    def __str__(self):
        return f"{self.email} ({self.get_kind_display()} {self.status})".strip()


class Reply(models.Model):
    """A human reply to a delivery. The reply itself stays in the mailbox: its
    Message-ID, sender, subject and date are enough to find it there."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="replies", verbose_name=_("delivery"),
    )
    message_id = models.CharField(_("Message-ID"), max_length=255)
    from_email = models.CharField(_("from"), max_length=254)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    sent_at = models.DateTimeField(_("date"), null=True, blank=True)
    received_at = models.DateTimeField(_("read"), default=timezone.now)

    class Meta:
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "message_id"],
                                    name="massmail_one_reply_per_message"),
        ]

    def __str__(self):
        return f"{self.from_email}: {self.subject}"
