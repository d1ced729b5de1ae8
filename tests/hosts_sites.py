"""Admin sites of the host tests, and a URLconf that serves them beside the example's.

- "bare": a host site with the mixin on its Contact admin but without massmail's admins
  (the host forgot ``massmail.admin.register(site)``);
- "rules": a host whose base admin gives managers no actions on some lists, and one list
  whose ``has_massmail_permission`` hook says no.
"""

from django.contrib import admin
from django.urls import include, path

import massmail.admin
from example_project.crm.admin import ContactAdmin, LeadAdmin
from example_project.crm.models import Company, Contact, Lead
from massmail.admin import RecipientAdminMixin


class NoActionsForManagers(admin.ModelAdmin):
    """The host's rule: only superusers get actions on this list."""

    def get_actions(self, request):
        return super().get_actions(request) if request.user.is_superuser else {}


class QuietContactAdmin(RecipientAdminMixin, NoActionsForManagers):
    pass


class NoMassmailLeadAdmin(LeadAdmin):
    def has_massmail_permission(self, request):
        return False


class SilentCompanyAdmin(RecipientAdminMixin, admin.ModelAdmin):
    actions = None


bare = admin.AdminSite(name="bare")
bare.register(Contact, ContactAdmin)

rules = admin.AdminSite(name="rules")
rules.register(Contact, QuietContactAdmin)
rules.register(Lead, NoMassmailLeadAdmin)
rules.register(Company, SilentCompanyAdmin)
massmail.admin.register(rules)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("bare/", bare.urls),
    path("rules/", rules.urls),
    path("massmail/", include("massmail.urls")),
]
