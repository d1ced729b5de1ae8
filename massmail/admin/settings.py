"""Massmail Settings: one page for superusers, no list, no add, no delete.

The time zone is a select of the zones Python knows and the working days are checkboxes,
so the form cannot store a value the engine cannot use (the model validates them too).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.text import capfirst

from ..models import MassmailSettings
from ..settings_values import time_zone_names


def https_url_field(db_field, **kwargs):
    """Form fields of the settings; an address typed without a scheme means https, as it
    will in Django 6."""
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return db_field.formfield(**kwargs)


class MassmailSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=())
    business_days = forms.TypedMultipleChoiceField(
        coerce=int, required=False,
        choices=MassmailSettings.WEEKDAYS, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = MassmailSettings
        fields = "__all__"
        formfield_callback = https_url_field

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("time_zone", "business_days"):
            model_field = MassmailSettings._meta.get_field(name)
            self.fields[name].label = capfirst(model_field.verbose_name)
            self.fields[name].help_text = model_field.help_text
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]

    def clean_business_days(self):
        return sorted(set(self.cleaned_data["business_days"]))


@admin.register(MassmailSettings)
class MassmailSettingsAdmin(admin.ModelAdmin):
    form = MassmailSettingsForm

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
