"""Ordinary ModelAdmins of the example CRM; the massmail mixin adds mailing features."""

from django.contrib import admin

from massmail.admin import RecipientAdminMixin

from .models import Company, Contact, Lead, Reply


@admin.register(Company)
class CompanyAdmin(RecipientAdminMixin, admin.ModelAdmin):
    list_display = ("name", "email", "country", "industry", "type", "owner", "massmail")
    list_filter = ("owner", "country", "industry", "type", "massmail")
    search_fields = ("name", "email")


@admin.register(Contact)
class ContactAdmin(RecipientAdminMixin, admin.ModelAdmin):
    list_display = ("first_name", "last_name", "email", "company", "owner", "massmail",
                    "disqualified")
    list_filter = ("owner", "company__country", "massmail", "disqualified")
    search_fields = ("first_name", "last_name", "email", "company__name")
    list_select_related = ("company", "owner")


@admin.register(Lead)
class LeadAdmin(RecipientAdminMixin, admin.ModelAdmin):
    list_display = ("first_name", "last_name", "company_name", "email", "owner", "massmail",
                    "disqualified")
    list_filter = ("owner", "massmail", "disqualified")
    search_fields = ("first_name", "last_name", "email", "company_name")


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ("from_email", "subject", "contact", "company", "lead", "received_at")
    search_fields = ("from_email", "subject", "text")
    list_select_related = ("contact", "company", "lead")
