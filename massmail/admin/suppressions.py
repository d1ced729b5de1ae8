from django.contrib import admin

from ..models import Suppression


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("email", "reason", "channel", "mailing", "created_at")
    list_filter = ("reason", "channel")
    search_fields = ("email",)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission
