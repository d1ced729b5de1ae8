"""The "CRM desk": a second admin site where the sales managers work.

Hosts such as Django CRM give their managers an AdminSite of their own and keep them
out of the default admin. The desk shows how massmail lives on such a site: the CRM's
recipient admins (with the massmail mixin) and ``massmail.admin.register(desk)``. It
admits any active user, staff or not, so a manager who is not staff works here and has
no access to /admin/ (whose login requires staff).
"""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

import massmail.admin

from .crm.admin import CompanyAdmin, ContactAdmin, LeadAdmin
from .crm.models import Company, Contact, Lead


class DeskSite(admin.AdminSite):
    site_header = site_title = _("CRM desk")
    index_title = _("Desk")
    login_form = AuthenticationForm  # any active user, not only staff

    def has_permission(self, request):
        return request.user.is_active


desk = DeskSite(name="desk")
desk.register(Company, CompanyAdmin)
desk.register(Contact, ContactAdmin)
desk.register(Lead, LeadAdmin)
massmail.admin.register(desk)
