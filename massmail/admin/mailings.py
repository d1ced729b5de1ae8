from django.contrib import admin
from django.db.models import OuterRef
from django.utils.translation import gettext_lazy as _

from ..models import Delivery, Mailing
from .owned import OwnedAdmin
from .suppressions import reason_label, suppression_reason


@admin.register(Mailing)
class MailingAdmin(OwnedAdmin):
    list_display = ("__str__", "owner", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "message__subject")
    readonly_fields = ("excluded", "created_at", "updated_at", "finished_at")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("email", "mailing", "status", "account", "attempts", "sent_at", "skip_reason",
                    "suppressed")
    list_filter = ("status", "skip_reason")
    search_fields = ("email",)
    list_select_related = ("mailing", "account")

    def get_queryset(self, request):
        # Delivery.email is normalised, like Suppression.email: a plain equality.
        queryset = super().get_queryset(request).annotate(
            _suppression=suppression_reason(OuterRef("email"))
        )
        if request.user.is_superuser:
            return queryset
        return queryset.filter(mailing__owner=request.user)

    @admin.display(description=_("suppressed"), ordering="_suppression")
    def suppressed(self, obj):
        return reason_label(obj._suppression)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
