"""Ordinary ModelAdmins of the example CRM; the massmail mixin adds mailing features.

``OwnRecordsAdmin`` is the pattern a host CRM needs anyway: each manager sees and edits
only the records they own, superusers see everything. massmail checks ownership again
for everything it does with the records.
"""

from django.contrib import admin

from massmail.admin import RecipientAdminMixin

from .models import Company, Contact, Lead, Reply


class OwnRecordsAdmin(admin.ModelAdmin):
    """A manager's own records only; superusers see all and pick the owner."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(owner=request.user)

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return filters if request.user.is_superuser else [f for f in filters if f != "owner"]

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        return exclude if request.user.is_superuser else [*exclude, "owner"]

    def save_model(self, request, obj, form, change):
        if not change and not request.user.is_superuser:
            obj.owner = request.user
        super().save_model(request, obj, form, change)


@admin.register(Company)
class CompanyAdmin(RecipientAdminMixin, OwnRecordsAdmin):
    list_display = ("name", "email", "country", "industry", "type", "owner", "massmail")
    list_filter = ("owner", "country", "industry", "type", "massmail")
    search_fields = ("name", "email")


@admin.register(Contact)
class ContactAdmin(RecipientAdminMixin, OwnRecordsAdmin):
    list_display = ("first_name", "last_name", "email", "company", "owner", "massmail",
                    "disqualified")
    list_filter = ("owner", "company__country", "massmail", "disqualified")
    search_fields = ("first_name", "last_name", "email", "company__name")
    list_select_related = ("company", "owner")


@admin.register(Lead)
class LeadAdmin(RecipientAdminMixin, OwnRecordsAdmin):
    list_display = ("first_name", "last_name", "company_name", "email", "owner", "massmail",
                    "disqualified")
    list_filter = ("owner", "massmail", "disqualified")
    search_fields = ("first_name", "last_name", "email", "company_name")


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ("from_email", "subject", "contact", "company", "lead", "received_at")
    search_fields = ("from_email", "subject", "text")
    list_select_related = ("contact", "company", "lead")
