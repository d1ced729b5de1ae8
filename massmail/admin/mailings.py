from django.contrib import admin

from ..models import Delivery, Mailing
from .owned import OwnedAdmin


@admin.register(Mailing)
class MailingAdmin(OwnedAdmin):
    list_display = ("__str__", "owner", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "message__subject")
    readonly_fields = ("excluded", "created_at", "updated_at", "finished_at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("email", "mailing", "status", "account", "attempts", "sent_at", "skip_reason")
    list_filter = ("status", "skip_reason")
    search_fields = ("email",)
    list_select_related = ("mailing", "account")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(mailing__owner=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
