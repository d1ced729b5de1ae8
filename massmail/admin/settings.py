"""Massmail Settings: one page for superusers, no list, no add, no delete."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from ..models import MassmailSettings


@admin.register(MassmailSettings)
class MassmailSettingsAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        obj = MassmailSettings.load()
        return HttpResponseRedirect(
            reverse("admin:massmail_massmailsettings_change", args=[obj.pk])
        )
