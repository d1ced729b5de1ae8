"""Massmail Settings: one page for superusers, no list, no add, no delete."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # An address typed without a scheme means https, as it will in Django 6.
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = MassmailSettings.load()
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_massmailsettings_change", args=[obj.pk])
        )
