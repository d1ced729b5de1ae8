"""massmail on any admin site, not only Django's default one.

A host whose managers work on their own ``AdminSite`` (Django CRM's namespace is
``site``) calls ``massmail.admin.register(site)``; the mixin on its recipient admins then
reaches massmail's pages on that same site. Every URL is reversed in the namespace of
the admin site that serves the request, and the URLs a view needs are resolved before
it saves anything: a site without massmail's admins is an error, never a half-done job.
"""

from django.apps import apps
from django.contrib import admin
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from ..naming import app_label


def register(site):
    """Register on ``site`` every massmail admin that is registered on the default site."""
    for model in apps.get_app_config(app_label()).get_models():
        if admin.site.is_registered(model) and not site.is_registered(model):
            site.register(model, type(admin.site.get_model_admin(model)))


def not_registered_error(site):
    return ImproperlyConfigured(
        f"massmail's admins are not registered on the admin site {site.name!r}: call "
        "massmail.admin.register(site) for it.")


def mailing_url_name(site):
    """The URL name of a mailing's change page on ``site``; raises ImproperlyConfigured
    when the site has no mailing admin, so a view fails before creating anything."""
    from ..models import Mailing

    name = f"{site.name}:{Mailing._meta.app_label}_mailing_change"
    try:
        reverse(name, args=[0])
    except NoReverseMatch:
        raise not_registered_error(site) from None
    return name


def mixin_checks(model_admin):
    """System check of a recipient admin: its site must have massmail's admins too."""
    from ..models import Mailing

    site = model_admin.admin_site
    if site.is_registered(Mailing):
        return []
    return [checks.Error(str(not_registered_error(site)), obj=type(model_admin),
                         id=f"{app_label()}.E020")]
