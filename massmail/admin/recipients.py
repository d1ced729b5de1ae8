"""The mixin a host adds to each recipient ModelAdmin (Contact, Company, Lead...).

It adds a VIP column and filter, a "Suppressed" column and filter (whether the record's
address is on the suppression list, and why), and the actions `massmail_mark_vip` and
`massmail_unmark_vip`. Marking works only on the user's own records.
"""

from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Exists, OuterRef, Value, When
from django.db.models.functions import Concat, Left, Lower, StrIndex, Substr, Trim
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import Recipient, Suppression
from ..recipients import source_for_model
from .suppressions import reason_label, suppression_reason


class VipFilter(admin.SimpleListFilter):
    title = _("VIP")
    parameter_name = "massmail_vip"

    def lookups(self, request, model_admin):
        return [("1", _("Yes")), ("0", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(_massmail_vip=True)
        if self.value() == "0":
            return queryset.filter(_massmail_vip=False)
        return queryset


class SuppressedFilter(admin.SimpleListFilter):
    title = _("suppressed")
    parameter_name = "massmail_suppressed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), *Suppression.Reason.choices, ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_massmail_suppression__isnull=False)
        if self.value() == "no":
            return queryset.filter(_massmail_suppression__isnull=True)
        if self.value() in Suppression.Reason.values:
            return queryset.filter(_massmail_suppression=self.value())
        return queryset


def normalised_email(field):
    """SQL twin of ``addresses.normalise_email`` for the host's email column: trimmed,
    domain lower-cased, so it can be compared with Suppression.email in the database.

    Limitations, all for addresses that practically never occur: it splits at the first
    "@" where normalise_email splits at the last (a quoted local part containing "@"),
    SQL TRIM removes spaces but not other whitespace, and SQLite lower-cases ASCII only.
    """
    address = Trim(field)
    at = StrIndex(address, Value("@"))
    return Case(
        When(**{f"{field}__contains": "@"},
             then=Concat(Left(address, at - 1), Value("@"), Lower(Substr(address, at + 1)))),
        default=address,
        output_field=CharField(),
    )


class RecipientAdminMixin:
    """Add to a host ModelAdmin whose model has a RecipientSource."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        content_type = ContentType.objects.get_for_model(self.model)
        vip = Recipient.objects.filter(content_type=content_type, object_id=OuterRef("pk"), vip=True)
        email_field = source_for_model(self.model).email_field
        return queryset.annotate(
            _massmail_vip=Exists(vip),
            _massmail_email=normalised_email(email_field),
            _massmail_suppression=suppression_reason(OuterRef("_massmail_email")),
        )

    def get_list_display(self, request):
        return (*super().get_list_display(request), "massmail_vip", "massmail_suppressed")

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), VipFilter, SuppressedFilter)

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name in ("massmail_mark_vip", "massmail_unmark_vip"):
            func = getattr(type(self), name)
            actions[name] = (func, name, func.short_description)
        return actions

    @admin.display(boolean=True, description=_("VIP"), ordering="_massmail_vip")
    def massmail_vip(self, obj):
        return obj._massmail_vip

    @admin.display(description=_("suppressed"), ordering="_massmail_suppression")
    def massmail_suppressed(self, obj):
        return reason_label(obj._massmail_suppression)

    def _set_vip(self, request, queryset, vip):
        source = source_for_model(self.model)
        own = queryset if request.user.is_superuser else queryset.filter(
            **{source.owner_field: request.user}
        )
        content_type = ContentType.objects.get_for_model(self.model)
        ids = list(own.values_list("pk", flat=True))
        Recipient.objects.bulk_create(
            [Recipient(content_type=content_type, object_id=pk) for pk in ids],
            ignore_conflicts=True,
        )
        Recipient.objects.filter(content_type=content_type, object_id__in=ids).update(vip=vip)
        refused = queryset.count() - len(ids)
        self.message_user(request, ngettext("%(count)d record updated.", "%(count)d records updated.",
                                            len(ids)) % {"count": len(ids)})
        if refused:
            self.message_user(
                request,
                ngettext("%(count)d record belongs to another manager and was left unchanged.",
                         "%(count)d records belong to other managers and were left unchanged.",
                         refused) % {"count": refused},
                messages.WARNING,
            )

    @admin.action(description=_("Mark as VIP"))
    def massmail_mark_vip(self, request, queryset):
        self._set_vip(request, queryset, True)

    @admin.action(description=_("Remove VIP"))
    def massmail_unmark_vip(self, request, queryset):
        self._set_vip(request, queryset, False)
