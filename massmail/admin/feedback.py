"""Mailbox feedback in the admin.

- Mailings get a "feedback" column and field: counts of hard and soft bounces,
  complaints, auto-replies and replies, each linking to the matching deliveries.
- Deliveries get a feedback column and filter.
- "Replies" lists the human replies to a manager's mailings, linking to the CRM record
  that was mailed (the reply itself stays in the mailbox).
- "Feedback reports" shows a bounce's or complaint's diagnostic and raw report, to the
  owner of the mailing (and superusers) only.

Managers reach replies and reports through the permission they already have on
deliveries; which rows they see is decided by ownership.
"""

import functools

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..feedback.counts import counts_by_mailing
from ..models import Delivery, FeedbackReport, Reply

LABELS = {
    "hard": lambda n: ngettext("%(count)d hard bounce", "%(count)d hard bounces", n),
    "soft": lambda n: ngettext("%(count)d soft bounce", "%(count)d soft bounces", n),
    "complained": lambda n: ngettext("%(count)d complaint", "%(count)d complaints", n),
    "auto_replied": lambda n: ngettext("%(count)d auto-reply", "%(count)d auto-replies", n),
    "replied": lambda n: ngettext("%(count)d reply", "%(count)d replies", n),
}


class FeedbackFilter(admin.SimpleListFilter):
    title = _("feedback")
    parameter_name = "feedback"
    LOOKUPS = {
        "hard": {"bounce": Delivery.Bounce.HARD},
        "soft": {"bounce": Delivery.Bounce.SOFT},
        "complained": {"complained_at__isnull": False},
        "auto_replied": {"auto_replied_at__isnull": False},
        "replied": {"replied_at__isnull": False},
    }

    def lookups(self, request, model_admin):
        return [("hard", _("hard bounce")), ("soft", _("soft bounce")),
                ("complained", _("complaint")), ("auto_replied", _("auto-reply")),
                ("replied", _("reply"))]

    def queryset(self, request, queryset):
        lookup = self.LOOKUPS.get(self.value())
        return queryset.filter(**lookup) if lookup else queryset


def feedback_html(counts, site_name, mailing_id):
    """The non-zero counts, each linking to the mailing's deliveries with that outcome."""
    url = reverse(f"{site_name}:massmail_delivery_changelist")
    return format_html_join(" · ", '<a href="{}?mailing__id__exact={}&amp;feedback={}">{}</a>', (
        (url, mailing_id, name, LABELS[name](count) % {"count": count})
        for name, count in counts.items() if count
    )) or "-"


@functools.cache
def with_feedback_counts(changelist_class):
    """``changelist_class`` that also fetches the page's feedback counts in one query."""

    class FeedbackChangeList(changelist_class):
        def get_results(self, request):
            super().get_results(request)
            counts = counts_by_mailing(mailing.pk for mailing in self.result_list)
            for mailing in self.result_list:
                mailing.massmail_feedback = counts[mailing.pk]

    return FeedbackChangeList


# The change page's fieldset of the feedback counts (read-only field "feedback_cell").
FEEDBACK_FIELDSET = (_("Mailbox feedback"), {"fields": ["feedback_cell"]})


class MailingFeedbackMixin:
    """Adds the feedback counts to a mailing admin's list; its change page shows
    FEEDBACK_FIELDSET, and its changelist class goes through with_feedback_counts."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "feedback_cell"]

    @admin.display(description=_("feedback"))
    def feedback_cell(self, obj):
        if obj.pk is None:
            return "-"
        counts = getattr(obj, "massmail_feedback", None) or counts_by_mailing([obj.pk])[obj.pk]
        return feedback_html(counts, self.admin_site.name, obj.pk)


class DeliveryFeedbackMixin:
    """Adds the feedback column and filter to the delivery list."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "feedback"]

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), FeedbackFilter]

    @admin.display(description=_("feedback"))
    def feedback(self, obj):
        parts = []
        if obj.bounce:
            parts.append(format_html('<a href="{}?delivery__id__exact={}">{} {}</a>', reverse(
                f"{self.admin_site.name}:massmail_feedbackreport_changelist"), obj.pk,
                obj.get_bounce_display(), obj.bounce_status))
        if obj.complained_at:
            parts.append(format_html('<a href="{}?delivery__id__exact={}">{}</a>', reverse(
                f"{self.admin_site.name}:massmail_feedbackreport_changelist"), obj.pk,
                _("complaint")))
        if obj.auto_replied_at:
            parts.append(_("auto-reply"))
        if obj.replied_at:
            parts.append(format_html('<a href="{}?delivery__id__exact={}">{}</a>', reverse(
                f"{self.admin_site.name}:massmail_reply_changelist"), obj.pk, _("replied")))
        return format_html_join(" · ", "{}", ((part,) for part in parts)) or "-"


class DeliveryOwnedAdmin(admin.ModelAdmin):
    """Read-only rows that belong to a delivery: the mailing owner's, or everything for a
    superuser; visible to whoever may view deliveries."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("delivery__mailing")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(delivery__mailing__owner=request.user)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("massmail.view_delivery") and (
            obj is None or request.user.is_superuser or obj.delivery.mailing.owner_id == request.user.pk)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("mailing"), ordering="delivery__mailing")
    def mailing(self, obj):
        return obj.delivery.mailing


@admin.register(Reply)
class ReplyAdmin(DeliveryOwnedAdmin):
    list_display = ("from_email", "subject", "sent_at", "mailing", "record_link")
    list_filter = (("delivery__mailing", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("from_email", "subject")
    fields = ("from_email", "subject", "sent_at", "message_id", "mailing", "record_link",
              "received_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("delivery__recipient")

    @admin.display(description=_("CRM record"))
    def record_link(self, obj):
        """The host's change page of the record that was mailed, when the host's admin
        has one."""
        recipient = obj.delivery.recipient
        model = recipient.content_type.model_class()
        if model is None or not self.admin_site.is_registered(model):
            return str(recipient)
        try:
            url = reverse(f"{self.admin_site.name}:{model._meta.app_label}_{model._meta.model_name}"
                          "_change", args=[recipient.object_id])
        except NoReverseMatch:
            return str(recipient)
        return format_html('<a href="{}">{} #{}</a>', url, model._meta.verbose_name,
                           recipient.object_id)


@admin.register(FeedbackReport)
class FeedbackReportAdmin(DeliveryOwnedAdmin):
    list_display = ("email", "kind", "status", "diagnostic", "mailing", "received_at")
    list_filter = ("kind", ("delivery__mailing", admin.RelatedOnlyFieldListFilter))
    search_fields = ("email", "diagnostic")
    fields = ("email", "kind", "status", "diagnostic", "mailing", "received_at", "report_id",
              "raw_report")
    readonly_fields = fields

    @admin.display(description=_("raw report"))
    def raw_report(self, obj):
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.raw)
