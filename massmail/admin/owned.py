"""Base admin of objects that belong to one manager.

Managers see and change only their own objects; the owner is set to the user on add
and only superusers may pick another owner. Foreign keys to owned objects offer only
the user's own choices.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404


class OwnedAdmin(admin.ModelAdmin):
    owner_field = "owner"

    def get_queryset(self, request):
        return super().get_queryset(request).owned_by(request.user)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or ())
        if not request.user.is_superuser:
            exclude.append(self.owner_field)
        return exclude

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser and self.owner_field not in filters:
            filters.insert(0, self.owner_field)
        return filters

    def assign_owner(self, request, obj, change):
        """Make a new object the user's, unless a superuser picked its owner.

        Separate from save_model so subclasses can rely on the owner before saving."""
        if not change and (not request.user.is_superuser
                           or not getattr(obj, f"{self.owner_field}_id")):
            setattr(obj, self.owner_field, request.user)

    def save_model(self, request, obj, form, change):
        self.assign_owner(request, obj, change)
        super().save_model(request, obj, form, change)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related.objects, "owned_by") and "queryset" not in kwargs:
            kwargs["queryset"] = related.objects.owned_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def owned_object(self, request, object_id):
        """The object ``object_id`` of an extra view (test, copy...) if the user may view
        it; anyone else's is a 404, like a missing one, so it reveals nothing."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj
