from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MassmailConfig(AppConfig):
    name = "massmail"
    verbose_name = _("Mass mail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from .setup import after_migrate

        post_migrate.connect(after_migrate, sender=self)
