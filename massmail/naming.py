"""Names that depend on the app label a host gave massmail.

A host whose project already has an app labelled "massmail" (Django CRM has one)
installs ours under another label with an AppConfig subclass. Permissions, content
types, admin URL names and check ids all contain the label, so none of them is ever
written literally: they are derived here, or from a model's ``_meta.app_label``.
"""

from django.apps import apps
from django.contrib.auth import get_permission_codename


def app_label():
    """massmail's label in this project: "massmail" unless the host gave another."""
    return apps.get_containing_app_config(__name__).label


def permission(action, model):
    """The ``user.has_perm`` name of ``action`` ("add", "change"...) on a massmail model."""
    opts = model._meta
    return f"{opts.app_label}.{get_permission_codename(action, opts)}"
