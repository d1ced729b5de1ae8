from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import EmailAccount
from .owned import OwnedAdmin


class EmailAccountForm(forms.ModelForm):
    """The stored password is never sent to the browser; a blank field keeps it."""

    password = forms.CharField(
        label=_("SMTP password"), required=False, strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the stored password."),
    )

    class Meta:
        model = EmailAccount
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stored_password = self.instance.password if self.instance.pk else ""

    def clean_password(self):
        return self.cleaned_data["password"] or self._stored_password

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("use_tls") and cleaned.get("use_ssl"):
            raise forms.ValidationError(_("Choose STARTTLS or implicit TLS, not both."))
        return cleaned


@admin.register(EmailAccount)
class EmailAccountAdmin(OwnedAdmin):
    form = EmailAccountForm
    list_display = ("name", "from_email", "owner", "main", "massmail", "daily_limit",
                    "disabled_at")
    list_filter = ("main", "massmail")
    search_fields = ("name", "from_email", "smtp_host")
    readonly_fields = ("disabled_at", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("password")

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff and (
            request.user.is_superuser or obj is None or obj.owner_id == request.user.pk
        )

    def get_fields(self, request, obj=None):
        """Only superusers, who may change the password, get its (always empty) input.

        Excluding the field is not enough: a form's declared field survives ``exclude``,
        and the view-only page that managers get would print the decrypted password as a
        read-only value.
        """
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [name for name in fields if name != "password"]

    def save_model(self, request, obj, form, change):
        admin.ModelAdmin.save_model(self, request, obj, form, change)
