"""Email accounts in the admin.

Superusers create and edit accounts for any manager (they pick the owner) and are the
only ones who ever type a password; managers see their own accounts read-only, never
the password. Both see what the engine knows about an account: how much it sent in
each of its limit windows, whether it is disabled or paused and why, and its last
error. "Test connection" (owners too) connects and authenticates and reports exactly
what the server said; "Re-enable" (superusers) lets the engine use a disabled or
paused account again, typically after its password was corrected.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ..feedback.mailbox import MailboxError, test_mailbox
from ..models import EmailAccount, MassmailSettings
from ..oauth.admin import ConnectMailboxMixin
from ..sending import limits
from ..sending.smtp import test_connection
from ..sending.transport import AccountError
from .account_usage import usage_by_account
from .owned import OwnedAdmin

WINDOW_NAMES = {
    limits.DAY: _("24 hours"),
    limits.HOUR: _("hour"),
    limits.MINUTE: _("minute"),
}


class EmailAccountForm(forms.ModelForm):
    """The stored password is never sent to the browser; a blank field keeps it."""

    password = forms.CharField(
        label=_("SMTP password"), required=False, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored password."),
    )

    class Meta:
        model = EmailAccount
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_password = self.instance.password if self.instance.pk else ""

    def clean_password(self):
        return self.cleaned_data["password"] or self._stored_password

    imap_password = forms.CharField(
        label=_("IMAP password"), required=False, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored password. Empty: the SMTP password."),
    )

    imap_port = forms.IntegerField(label=_("IMAP port"), required=False, min_value=1,
                                   max_value=65535, help_text=_("Empty: 993."))

    def clean_imap_port(self):
        return self.cleaned_data["imap_port"] or EmailAccount._meta.get_field("imap_port").default

    def clean_imap_password(self):
        # Until the form is applied, the instance holds the stored value.
        return self.cleaned_data["imap_password"] or self.instance.imap_password

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("use_tls") and cleaned.get("use_ssl"):
            raise forms.ValidationError(_("Choose STARTTLS or implicit TLS, not both."))
        return cleaned


def _when(value):
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


class AccountChangeList(ChangeList):
    """Counts what the page's accounts sent in one query, not one per row."""

    def get_results(self, request):
        super().get_results(request)
        usage = usage_by_account(self.result_list, MassmailSettings.for_request(request), timezone.now())
        for account in self.result_list:
            account.massmail_usage = usage[account.pk]


@admin.register(EmailAccount)
class EmailAccountAdmin(ConnectMailboxMixin, OwnedAdmin):
    change_form_template = "admin/massmail/emailaccount/change_form.html"  # under any app label
    form = EmailAccountForm
    list_display = ("name", "sender", "owner", "role", "sent_recently", "state")
    list_filter = ("main", "massmail")
    list_select_related = ("owner",)
    search_fields = ("name", "from_email", "smtp_host")
    actions = ["reenable"]
    # What the engine records about the account: shown, never typed in.
    readonly_fields = ("sent_recently", "state", "disabled_reason", "disabled_at", "paused_until",
                       "last_error", "last_error_at", "created_at", "feedback_state")
    fieldsets = [
        (None, {"fields": ("owner", "name", "from_name", "from_email", "main", "massmail")}),
        (_("SMTP server"), {"fields": ("smtp_host", "smtp_port", "smtp_user", "password",
                                       "use_tls", "use_ssl")}),
        (_("Limits"), {"fields": ("daily_limit", "hourly_limit", "minute_limit",
                                  "sent_recently")}),
        (_("State"), {"fields": ("state", "disabled_reason", "disabled_at", "paused_until",
                                 "last_error", "last_error_at", "created_at")}),
        (_("Sign-in"), {"fields": ("auth_method", "oauth_address", "oauth_connected_at")}),
        (_("Mailbox feedback (IMAP)"), {"fields": (
            "read_feedback", "feedback_state", "imap_host", "imap_port", "imap_use_ssl",
            "imap_user", "imap_password")}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("password")

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        """The model permission (the managers' group has it), and only for their own."""
        return super().has_view_permission(request, obj) and (
            request.user.is_superuser or obj is None or obj.owner_id == request.user.pk
        )

    def get_fieldsets(self, request, obj=None):
        """Only superusers, who may change the password, get its (always empty) input,
        and only they pick the owner.

        Excluding the field is not enough: a form's declared field survives ``exclude``,
        and the view-only page that managers get would print the decrypted password as a
        read-only value.
        """
        if request.user.is_superuser:
            return self.fieldsets
        hidden = {"password", "imap_password", self.owner_field}
        return [(name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
                for name, options in self.fieldsets]

    def get_list_display(self, request):
        """Managers see only their own accounts: an owner column would repeat their name."""
        columns = super().get_list_display(request)
        if request.user.is_superuser:
            return columns
        return [column for column in columns if column != self.owner_field]

    def save_model(self, request, obj, form, change):
        # Only superusers add accounts, and they always pick the owner.
        admin.ModelAdmin.save_model(self, request, obj, form, change)

    def get_changelist(self, request, **kwargs):
        return AccountChangeList

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            obj.massmail_usage = usage_by_account(
                [obj], MassmailSettings.for_request(request), timezone.now())[obj.pk]
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("sent / limit"))
    def sent_recently(self, account):
        """Sent (and claimed) against each limit, e.g. "24 hours: 120 / 500"."""
        if account.pk is None:
            return "-"
        return " · ".join(f"{WINDOW_NAMES[length]}: {used} / {limit}"
                          for length, limit, used in account.massmail_usage)

    @admin.display(description=_("sender"), ordering="from_email")
    def sender(self, account):
        """What recipients see in From: the sender name and the address."""
        if account.from_name:
            return f"{account.from_name} <{account.from_email}>"
        return account.from_email

    @admin.display(description=_("sends to"), ordering="-main")
    def role(self, account):
        """What the engine routes through the account (see sending/routing.py); VIP
        recipients also go through the other accounts while no main one is usable."""
        return gettext("VIP recipients (main account)") if account.main else gettext(
            "recipients who are not VIP")

    @admin.display(description=_("state"))
    def state(self, account):
        """Whether the engine may send through the account now, and if not why."""
        if account.disabled_at is not None:
            return gettext("Disabled since %(when)s: %(reason)s") % {
                "when": _when(account.disabled_at), "reason": account.disabled_reason or "-"}
        if account.paused_until is not None and account.paused_until > timezone.now():
            return gettext("Paused until %(when)s: %(reason)s") % {
                "when": _when(account.paused_until), "reason": account.last_error or "-"}
        if not account.massmail:
            return gettext("Not used for mailings")
        return gettext("Active")

    @admin.action(description=_("Re-enable selected accounts"), permissions=["change"])
    def reenable(self, request, queryset):
        count = queryset.update(disabled_at=None, disabled_reason="", paused_until=None,
                                failure_kind="", failure_streak=0, policy_streak=0,
                                breaker_streak=0)
        self.message_user(request, ngettext(
            "%(count)d account may send again.", "%(count)d accounts may send again.", count,
        ) % {"count": count})

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/test-connection/",
                 self.admin_site.admin_view(require_POST(self.test_connection_view)),
                 name="{}_{}_test_connection".format(*info)),
            path("<path:object_id>/test-mailbox/",
                 self.admin_site.admin_view(require_POST(self.test_mailbox_view)),
                 name="{}_{}_test_mailbox".format(*info)),
            *super().get_urls(),
        ]

    def test_connection_view(self, request, object_id):
        """Owners and superusers only; anyone else's account is a 404, like a missing one."""
        account = self.owned_object(request, object_id)
        try:
            result = test_connection(account)
        except AccountError as error:
            self.message_user(request, gettext("Test of %(account)s failed: %(error)s") % {
                "account": account, "error": error}, messages.ERROR)
        else:
            self.message_user(request, gettext("Test of %(account)s succeeded. %(result)s") % {
                "account": account, "result": result}, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_emailaccount_change", args=[account.pk]))

    def test_mailbox_view(self, request, object_id):
        """Log in to the account's IMAP mailbox and examine the INBOX (read-only);
        owners and superusers only, like "Test connection"."""
        account = self.owned_object(request, object_id)
        try:
            result = test_mailbox(account)
        except MailboxError as error:
            self.message_user(request, gettext("Mailbox test of %(account)s failed: %(error)s") % {
                "account": account, "error": error}, messages.ERROR)
        else:
            self.message_user(request, gettext("Mailbox test of %(account)s succeeded. %(result)s") % {
                "account": account, "result": result}, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_emailaccount_change", args=[account.pk]))

    @admin.display(description=_("mailbox feedback"))
    def feedback_state(self, account):
        """Whether the feedback reader can read the mailbox, and when it last did."""
        if not account.read_feedback:
            return gettext("Not read")
        if account.feedback_error:
            return gettext("Failing since %(when)s: %(reason)s") % {
                "when": _when(account.feedback_error_at), "reason": account.feedback_error}
        if account.feedback_read_at is None:
            return gettext("Not read yet")
        return gettext("Last read %(when)s") % {"when": _when(account.feedback_read_at)}
