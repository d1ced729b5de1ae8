"""Base admin of objects that belong to one manager.

Managers see and change only their own objects; the owner is set to the user on add
and only superusers may pick another owner. Foreign keys to owned objects offer only
the user's own choices.

Where ``team_visible`` is set (messages, mailings, deliveries), a user also views the
objects of the owners in their team scope (scopes.py), read-only: changing, deleting,
actions and sending stay with the owner and superusers.
"""

from functools import reduce

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404

from ..scopes import scope_filter


class ScopedAdmin(admin.ModelAdmin):
    """Objects whose owner is reached through ``owner_field`` (a lookup path): the user
    views their own ones, and with ``team_visible`` those of their team scope too."""

    owner_field = "owner"
    team_visible = True

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        if not self.team_visible:
            return queryset.filter(**{self.owner_field: request.user})
        return queryset.filter(scope_filter(request.user, self.owner_field))

    def is_own(self, request, obj):
        """Whether the user may change ``obj`` (None: the model in general)."""
        if obj is None or request.user.is_superuser:
            return True
        *path, last = self.owner_field.split("__")
        return getattr(reduce(getattr, path, obj), f"{last}_id") == request.user.pk

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.is_own(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.is_own(request, obj)

    def response_action(self, request, queryset):
        """Actions change things, so they act on the user's own objects only, whatever
        else the team scope shows."""
        if not request.user.is_superuser:
            queryset = queryset.filter(**{self.owner_field: request.user})
        return super().response_action(request, queryset)


class OwnedAdmin(ScopedAdmin):
    """Objects with an ``owner`` field that managers create and edit themselves."""

    team_visible = False

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

    def owned_object(self, request, object_id, *, change=False):
        """The object ``object_id`` of an extra view (test, copy...) if the user may view
        it (with ``change``: change it); anyone else's is a 404, like a missing one, so it
        reveals nothing."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj) or (
                change and not self.has_change_permission(request, obj)):
            raise PermissionDenied
        return obj
