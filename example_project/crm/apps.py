from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrmConfig(AppConfig):
    name = "example_project.crm"
    label = "crm"
    verbose_name = "CRM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import replies  # noqa: F401  (connects the reply_received receiver)
        from .permissions import grant_managers_crm_access

        post_migrate.connect(grant_managers_crm_access, sender=self)
