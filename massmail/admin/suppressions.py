"""The suppression list: addresses that are never mailed again. Superusers only.

Superusers list, search, add (manual entries) and remove entries and export them as
CSV. Managers never see this list; they see whether their own recipients are
suppressed, and why, on the recipient lists and on the delivery rows, through
``suppression_reason`` below.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Subquery
from django.db.models.functions import Lower
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..addresses import address_key, key_expression, normalise_email
from ..models import Suppression
from ..spreadsheets import csv_lines
from ..suppressions import by_key

# CSV columns: stable identifiers rather than translated labels, so the file can be
# imported elsewhere whatever the exporting user's language.
CSV_HEADER = ("email", "reason", "channel", "mailing_id", "mailing_name", "note", "created_at")
CSV_FIELDS = ("email", "reason", "channel", "mailing_id", "mailing__name", "note", "created_at")


def suppression_reason(email):
    """Subquery: the Suppression reason of ``email`` (an expression yielding a
    normalised address), or NULL, compared by address key (without regard to letter
    case). Annotating a list with it costs
    no query per row."""
    same = Suppression.objects.annotate(_key=key_expression("email")).filter(_key=Lower(email))
    return Subquery(same.values("reason")[:1])


def reason_label(value):
    """The display label of a reason annotated by ``suppression_reason``."""
    return Suppression.Reason(value).label if value else None


def csv_response(queryset):
    """Stream ``queryset`` as CSV: rows are fetched in chunks as the client reads, so a
    list of millions of addresses never sits in memory."""
    rows = queryset.values_list(*CSV_FIELDS).iterator(chunk_size=2000)
    response = StreamingHttpResponse(csv_lines(CSV_HEADER, rows), content_type="text/csv; charset=utf-8")
    filename = f"suppressed-addresses-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class SuppressionForm(forms.ModelForm):
    class Meta:
        model = Suppression
        fields = ("email", "reason", "note")

    def clean_email(self):
        """The normalised address, refused when it is suppressed already in any letter
        case, with the existing entry named (the unique index would only raise)."""
        email = normalise_email(self.cleaned_data["email"])
        existing = by_key([address_key(email)]).exclude(pk=self.instance.pk).first()
        if existing is not None:
            raise forms.ValidationError(
                _("%(email)s is already suppressed (as %(existing)s, %(reason)s): "
                  "addresses are compared without regard to letter case."),
                code="duplicate",
                params={"email": email, "existing": existing.email,
                        "reason": existing.get_reason_display()},
            )
        return email


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ("email", "reason", "channel", "mailing", "created_at")
    list_filter = ("reason", "channel", "created_at")
    list_select_related = ("mailing",)
    search_fields = ("email", "note")
    actions = ["export_csv", "unsuppress_bounced"]
    # Lives beside the unsubscribe page templates: it only adds the "Export CSV" button.
    change_list_template = "massmail/unsubscribe_suppression_change_list.html"

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("email", "reason", "note")
        return ("email", "reason", "channel", "mailing", "note", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # What happened stays as it happened; the reason and note may be corrected.
        return () if obj is None else ("email", "channel", "mailing", "created_at")

    def get_changeform_initial_data(self, request):
        return {"reason": Suppression.Reason.MANUAL, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if not change:
            obj.channel = Suppression.Channel.ADMIN
        super().save_model(request, obj, form, change)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view),
                 name="{}_{}_export".format(*info)),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_suppression_export")
        if request.GET:
            url += "?" + request.GET.urlencode()
        return super().changelist_view(request, {"export_url": url, **(extra_context or {})})

    def export_view(self, request):
        """Every entry that the list shows with the same filters and search."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{self.opts.app_label}_suppression_changelist") + "?e=1"
            )
        return csv_response(changelist.queryset)

    @admin.action(description=_("Export selected as CSV"))
    def export_csv(self, request, queryset):
        return csv_response(queryset)

    @admin.action(description=_("Un-suppress selected bounced addresses"), permissions=["delete"])
    def unsuppress_bounced(self, request, queryset):
        """Let bounced addresses be mailed again (a mailbox that works again). Other
        reasons are left alone: an unsubscribe or a complaint is the recipient's choice.
        Each removal is recorded in the admin log with the user who did it."""
        bounced = queryset.filter(reason=Suppression.Reason.BOUNCED)
        self.log_deletions(request, bounced)
        count, _deleted = bounced.delete()
        self.message_user(request, ngettext(
            "%(count)d bounced address may be mailed again.",
            "%(count)d bounced addresses may be mailed again.", count) % {"count": count})
