"""Mailings and their deliveries in the admin.

The mailing list shows how each mailing is going ("Delivered X of Y" over a bar of
delivered, failed, bounced, skipped and unknown rows, sent in the last 24 hours) and why
it is not sending right now, computed for the whole page at once (mailing_status.py);
while a mailing is active, a small script polls ``progress/`` and updates those cells in
place.
The change page shows the message exactly as the first recipient gets it (rendered by
the engine's own renderer, HTML in a sandboxed iframe). Every status change goes
through the engine's functions in ``api``, so activation is checked and refused or
warned about there, and a status the engine set meanwhile (done) is never overwritten.

Mailings are created from the recipient lists (see recipients.py), not from an empty
add form: a mailing is its recipients.
"""


from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef
from django.http import Http404, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import api, rendering, tokens
from ..audience import Exclusion
from ..models import Delivery, Mailing, MassmailSettings, Message
from ..recipients import get_sources, source_for_content_type
from ..sending.control import activation_warnings
from .delivery_rows import DeliveryChangeList, reply_text, resend
from .feedback import FEEDBACK_FIELDSET, DeliveryFeedbackMixin, MailingFeedbackMixin, with_feedback_counts
from .mailing_status import page_reasons, percent_processed, progress_counts, progress_html, status_html
from .messages import problems
from .owned import OwnedAdmin, ScopedAdmin
from .reports import OutcomeFilter, ReportsMixin
from .suppressions import reason_label, suppression_reason

# The statuses a manager may choose, from each status. "done" is the engine's to set.
NEXT_STATUSES = {
    Mailing.Status.PAUSED: (Mailing.Status.PAUSED, Mailing.Status.ACTIVE, Mailing.Status.INTERRUPTED),
    Mailing.Status.ACTIVE: (Mailing.Status.ACTIVE, Mailing.Status.PAUSED, Mailing.Status.INTERRUPTED),
    Mailing.Status.INTERRUPTED: (Mailing.Status.INTERRUPTED, Mailing.Status.ACTIVE),
    Mailing.Status.CREATING: (Mailing.Status.CREATING,),  # becomes paused when ready
}
STATUS_CHANGES = {
    Mailing.Status.ACTIVE: api.activate,
    Mailing.Status.PAUSED: api.pause,
    Mailing.Status.INTERRUPTED: api.interrupt,
}
# Mailings one progress request may ask about: a page of the list.
MAX_PROGRESS_IDS = 500
# The query parameter naming the delivery whose recipient the preview is shown as.
PREVIEW_AS_PARAM = "preview_as"
# Deliveries looked at to find a recipient whose record still exists, for the preview.
PREVIEW_CANDIDATES = 20


# --- progress ------------------------------------------------------------------------------


def why_html(reasons):
    return format_html_join(mark_safe("<br>"), "{}", ((reason,) for reason in reasons))


def page_cells(mailings, request):
    """{mailing id: (counts, the inner HTML of each self-updating cell)} for a page of
    mailings, with a fixed number of queries (see mailing_status)."""
    now = timezone.now()
    counts = progress_counts([mailing.pk for mailing in mailings], now)
    reasons = page_reasons(mailings, counts, MassmailSettings.for_request(request), now)
    return {mailing.pk: (counts[mailing.pk], cells(mailing, counts[mailing.pk], reasons[mailing.pk]))
            for mailing in mailings}


def cells(mailing, counts, reasons):
    """The inner HTML of each self-updating cell of ``mailing``, by cell name."""
    return {
        "status": status_html(mailing, counts),
        "progress": progress_html(counts),
        "sent_24h": format_html("{}", counts["sent_24h"]),
        "why": why_html(reasons),
    }


def cell(mailing, name, content):
    """A cell that the progress script finds and refreshes while the mailing is active."""
    return format_html(
        '<span class="massmail-cell" data-massmail-mailing="{}" data-massmail-field="{}" '
        'data-massmail-active="{}">{}</span>',
        mailing.pk, name, "true" if mailing.status == Mailing.Status.ACTIVE else "false", content,
    )


# --- preview -------------------------------------------------------------------------------


def preview_candidates(mailing):
    """[(delivery, source, record)] of the mailing's first deliveries whose record the
    mailing's owner still owns: the recipients a preview may be shown as."""
    candidates = []
    for delivery in mailing.deliveries.select_related("recipient").order_by("pk")[:PREVIEW_CANDIDATES]:
        source = source_for_content_type(
            ContentType.objects.get_for_id(delivery.recipient.content_type_id))
        # Only a record the mailing's owner still owns: never show another manager's.
        record = (source.get_model()._default_manager.select_related(*source.select_related)
                  .filter(pk=delivery.recipient.object_id,
                          **{source.owner_field: mailing.owner_id}).first())
        if record is not None:
            candidates.append((delivery, source, record))
    return candidates


def preview(mailing, chosen=None):
    """The message as one recipient gets it, the first one unless ``chosen`` (a delivery
    id) names another of ``preview_candidates``: {"email", "subject", "html", "text",
    "choices": [(delivery id, label)], "chosen"}, {"error"} when the message cannot be
    rendered, or None when the mailing has no recipient to show it for."""
    candidates = preview_candidates(mailing)
    if not candidates:
        return None
    delivery, source, record = next(
        (candidate for candidate in candidates if str(candidate[0].pk) == str(chosen)), candidates[0])
    context = rendering.recipient_context(
        source.merge_values(record), email=delivery.email,
        unsubscribe_url=tokens.unsubscribe_url(delivery.pk, delivery.email, mailing.pk),
        postal_address=MassmailSettings.load().postal_address)
    try:
        rendered = rendering.prepare(mailing.message).render(context)
    except (ValidationError, OSError) as error:
        return {"error": " ".join(problems(error))}
    return {"email": delivery.email, "subject": rendered.subject, "html": rendered.html,
            "text": rendered.text, "chosen": delivery.pk,
            "choices": [(d.pk, f"{r} <{d.email}>") for d, _source, r in candidates]}


# --- mailings ------------------------------------------------------------------------------


class MailingForm(forms.ModelForm):
    """Offers the owner's messages and the statuses a manager may move to; refuses an
    activation the engine would refuse, with the engine's explanation."""

    class Meta:
        model = Mailing
        fields = ("name", "message", "start_at", "status")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.previous_status = self.instance.status
        if "message" in self.fields:
            self.fields["message"].queryset = Message.objects.filter(owner_id=self.instance.owner_id)
        if "status" in self.fields:
            self.fields["status"].choices = [
                (value, label) for value, label in Mailing.Status.choices
                if value in NEXT_STATUSES[self.previous_status]
            ]

    def clean_status(self):
        status = self.cleaned_data["status"]
        if status == Mailing.Status.ACTIVE and self.previous_status != Mailing.Status.ACTIVE:
            try:
                activation_warnings(self.instance)
            except api.ActivationError as error:
                raise ValidationError(str(error)) from None
            self._check_message(self.cleaned_data.get("message") or self.instance.message)
        return status

    @staticmethod
    def _check_message(message):
        """Refuse to activate a mailing whose message could not be sent (too big, a
        missing attachment, invalid merge fields) instead of letting it fail at send time."""
        try:
            rendering.prepare(message)
        except (ValidationError, OSError) as error:
            raise ValidationError(_("The message cannot be sent: %(problems)s")
                                  % {"problems": " ".join(problems(error))}) from None


class MailingChangeList(ChangeList):
    """Fetches the progress and the "why" of the page's mailings at once."""

    def get_results(self, request):
        super().get_results(request)
        page = page_cells(self.result_list, request)
        for mailing in self.result_list:
            mailing.massmail_counts, mailing.massmail_cells = page[mailing.pk]


@admin.register(Mailing)
class MailingAdmin(ReportsMixin, MailingFeedbackMixin, OwnedAdmin):
    team_visible = True  # team leads view their team's mailings (owned.py)
    form = MailingForm
    list_display = ("__str__", "status_cell", "progress_cell", "sent_24h_cell", "why_cell",
                    "deliveries_link", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "message__subject")
    actions = ["pause_mailings", "resume_mailings", "interrupt_mailings"]
    change_list_template = "massmail/admin/mailing_change_list.html"
    change_form_template = "massmail/admin/mailing_change_form.html"

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if request.user.is_superuser:
            shown.insert(1, "owner")
        return shown

    def get_fieldsets(self, request, obj=None):
        main = ["name", "message", "start_at", "status"]
        if request.user.is_superuser:
            main.insert(0, "owner")
        return [
            (None, {"fields": main}),
            (_("Progress"), {"fields": ["progress_cell", "why_cell", "deliveries_link",
                                        "excluded_display"]}),
            (_("Dates"), {"fields": ["created_at", "updated_at", "finished_at"],
                          "classes": ["collapse"]}),
            FEEDBACK_FIELDSET,
        ]

    def get_readonly_fields(self, request, obj=None):
        """The owner never changes (the deliveries are the owner's records); the message
        is fixed once sending began, so every recipient gets the same one; a finished
        mailing's status is final."""
        readonly = ["owner", "progress_cell", "why_cell", "deliveries_link", "excluded_display",
                    "created_at", "updated_at", "finished_at", "feedback_cell"]
        if obj is not None and obj.deliveries.exclude(status=Delivery.Status.PENDING).exists():
            readonly.append("message")
        if obj is not None and obj.status == Mailing.Status.DONE:
            readonly.append("status")
        return readonly

    def has_add_permission(self, request):
        return False

    def get_changelist(self, request, **kwargs):
        return with_feedback_counts(MailingChangeList)

    def get_urls(self):
        return [
            path("progress/", self.admin_site.admin_view(self.progress_view),
                 name=f"{self.opts.app_label}_{self.opts.model_name}_progress"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        """Adds links to the recipient lists, where mailings are created."""
        lists = []
        for model in (source.get_model() for source in get_sources()):
            if (self.admin_site.is_registered(model)
                    and self.admin_site.get_model_admin(model).has_view_or_change_permission(request)):
                lists.append((model._meta.verbose_name_plural, reverse(
                    f"{self.admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_changelist")))
        return super().changelist_view(request, {"recipient_lists": lists, **(extra_context or {})})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["preview"] = preview(obj, request.GET.get(PREVIEW_AS_PARAM))
            obj.massmail_counts, obj.massmail_cells = page_cells([obj], request)[obj.pk]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        """Save the edited fields; change the status only through the engine, and never
        write a status read earlier over one the engine has set since (done)."""
        fields = [name for name in form.changed_data if name != "status"]
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
        requested, obj.status = obj.status, form.previous_status
        if requested != obj.status:
            self._change_status(request, obj, requested)

    def _change_status(self, request, mailing, status, prefix=""):
        """Apply a status change through the engine; report refusals and warnings.
        Returns whether the mailing now has ``status``."""
        try:
            warnings = STATUS_CHANGES[status](mailing) or []
        except api.ActivationError as error:
            self.message_user(request, f"{prefix}{error}", messages.ERROR)
            return False
        for warning in warnings:
            self.message_user(request, f"{prefix}{warning}", messages.WARNING)
        return mailing.status == status

    def _change_statuses(self, request, queryset, status):
        """Change the selected mailings that may move to ``status``; returns how many did."""
        may_change = [current for current, allowed in NEXT_STATUSES.items()
                      if status in allowed and current != status]
        return sum(
            self._change_status(request, mailing, status, prefix=f"{mailing}: ")
            for mailing in queryset.filter(status__in=may_change)
        )

    @admin.action(description=_("Pause selected mailings"), permissions=["change"])
    def pause_mailings(self, request, queryset):
        count = self._change_statuses(request, queryset, Mailing.Status.PAUSED)
        self.message_user(request, ngettext("%(count)d mailing paused.",
                                            "%(count)d mailings paused.", count) % {"count": count})

    @admin.action(description=_("Resume (activate) selected mailings"), permissions=["change"])
    def resume_mailings(self, request, queryset):
        count = self._change_statuses(request, queryset, Mailing.Status.ACTIVE)
        self.message_user(request, ngettext("%(count)d mailing activated.",
                                            "%(count)d mailings activated.", count) % {"count": count})

    @admin.action(description=_("Interrupt selected mailings"), permissions=["change"])
    def interrupt_mailings(self, request, queryset):
        count = self._change_statuses(request, queryset, Mailing.Status.INTERRUPTED)
        self.message_user(request, ngettext("%(count)d mailing interrupted.",
                                            "%(count)d mailings interrupted.", count) % {"count": count})

    def progress_view(self, request):
        """JSON of the self-updating cells of ``?ids=1,2,3``. 404 when any of the ids is
        not one of the user's mailings, so nothing is learned about others' mailings."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            ids = {int(value) for value in request.GET.get("ids", "").split(",")}
        except ValueError:
            raise Http404 from None
        if len(ids) > MAX_PROGRESS_IDS:
            raise Http404
        mailings = list(self.get_queryset(request).filter(pk__in=ids))
        if len(mailings) != len(ids):
            raise Http404
        page = page_cells(mailings, request)
        return JsonResponse({"mailings": {
            str(mailing.pk): {
                "status": mailing.status,
                "active": mailing.status == Mailing.Status.ACTIVE,
                "percent": percent_processed(page[mailing.pk][0]),
                "counts": page[mailing.pk][0],
                "cells": page[mailing.pk][1],
            } for mailing in mailings
        }})

    def _cells(self, obj):
        """Set for the page by the change list, and by render_change_form."""
        return obj.massmail_cells

    @admin.display(description=_("status"), ordering="status")
    def status_cell(self, obj):
        return cell(obj, "status", self._cells(obj)["status"])

    @admin.display(description=_("progress"))
    def progress_cell(self, obj):
        return cell(obj, "progress", self._cells(obj)["progress"])

    @admin.display(description=_("sent in 24 h"))
    def sent_24h_cell(self, obj):
        return cell(obj, "sent_24h", self._cells(obj)["sent_24h"])

    @admin.display(description=_("why not sending"))
    def why_cell(self, obj):
        return cell(obj, "why", self._cells(obj)["why"])

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj):
        url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_delivery_changelist")
        return format_html('<a href="{}?mailing__id__exact={}">{}</a>', url, obj.pk,
                           _("Show deliveries"))

    @admin.display(description=_("left out at creation"))
    def excluded_display(self, obj):
        return format_html_join(
            "", "<span>{}: {}</span><br>",
            ((capfirst(Exclusion.LABELS.get(reason, reason)), number)
             for reason, number in sorted(obj.excluded.items(), key=lambda item: -item[1])),
        ) or "-"


# --- deliveries ----------------------------------------------------------------------------


@admin.register(Delivery)
class DeliveryAdmin(DeliveryFeedbackMixin, ScopedAdmin):  # the owner's and team's (owned.py)
    owner_field = "mailing__owner"
    list_display = ("email", "recipient_link", "mailing", "status", "account", "attempts",
                    "attempted_at", "sent_at", "reply", "skip_reason", "suppressed")
    list_filter = ("status", ("account", admin.RelatedOnlyFieldListFilter), "skip_reason",
                   ("mailing", admin.RelatedOnlyFieldListFilter), OutcomeFilter)
    search_fields = ("email",)
    list_select_related = ("mailing", "account", "recipient")
    actions = ["resend_failed", "resend_unknown"]
    # The engine's bookkeeping of a batch under way: for superusers (debugging), not managers.
    LEASE_FIELDS = ("lease_until", "lease_owner")

    def get_changelist(self, request, **kwargs):
        return DeliveryChangeList

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        return exclude if request.user.is_superuser else [*exclude, *self.LEASE_FIELDS]

    @admin.display(description=_("recipient"))
    def recipient_link(self, obj):
        return getattr(obj, "massmail_recipient", None) or "-"

    @admin.display(description=_("SMTP reply or error"), ordering="smtp_code")
    def reply(self, obj):
        return reply_text(obj)

    def get_queryset(self, request):
        # Delivery.email is normalised, like Suppression.email: a plain equality.
        return super().get_queryset(request).annotate(
            _suppression=suppression_reason(OuterRef("email"))
        )

    @admin.display(description=_("suppressed"), ordering="_suppression")
    def suppressed(self, obj):
        return reason_label(obj._suppression)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request):
        """Resending changes the mailing's outcome: it takes the right to change mailings."""
        return request.user.has_perm(f"{self.opts.app_label}.change_mailing")

    def changelist_view(self, request, extra_context=None):
        """The deliveries of one mailing (``?mailing__id__exact=``) are titled with it;
        another manager's mailing is a 404, as if it did not exist."""
        mailing_id = request.GET.get("mailing__id__exact")
        context = {}
        if mailing_id is not None:
            try:
                mailing = Mailing.objects.visible_to(request.user).get(pk=mailing_id)
            except (Mailing.DoesNotExist, ValueError, ValidationError):
                raise Http404 from None
            context["title"] = _("Deliveries of “%(mailing)s”") % {"mailing": mailing}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.action(description=_("Resend failed deliveries"), permissions=["resend"])
    def resend_failed(self, request, queryset):
        resend(self, request, queryset.filter(status=Delivery.Status.FAILED))

    @admin.action(description=_("Resend unknown deliveries…"), permissions=["resend"])
    def resend_unknown(self, request, queryset):
        """Ask first: an unknown row was being handed to the mail server when sending
        stopped, so the recipient may already have it and would get it twice."""
        unknown = queryset.filter(status=Delivery.Status.UNKNOWN).select_related("mailing")
        if request.POST.get("post") == "yes":
            resend(self, request, unknown)
            return None
        if not unknown.exists():
            self.message_user(request, _("None of the selected deliveries has an unknown outcome."),
                              messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resend deliveries of unknown outcome?"),
            "opts": self.opts,
            "deliveries": unknown,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "massmail/admin/resend_unknown.html", context)
