"""The example CRM lets massmail's "Sales managers" group reach its lists.

massmail gives that group its own permissions only: it cannot know the host's recipient
models statically, and a host may well give its managers CRM access through groups of
its own (then named in MASSMAIL["MANAGER_GROUPS"], and left alone here). So the host
grants them, as this example does after every ``migrate``: view and change on Company,
Contact and Lead. A manager put in the group (the demo's anna and ben) can then walk
the whole path, from the contact list to a sent mailing, without any permission granted
by hand. Which records they see is decided by ownership in ``admin.py``, not by these
permissions.
"""

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from massmail.conf import conf
from massmail.permissions import MANAGERS_GROUP

ACTIONS = ("view", "change")


def grant_managers_crm_access(app_config, using="default", **kwargs):
    """post_migrate handler: add the CRM's view and change permissions to massmail's own
    group. Idempotent; the group's other permissions are left alone."""
    if conf.MANAGER_GROUPS:
        return  # the host's own groups: their CRM permissions are the host's business
    create_permissions(app_config, verbosity=0, using=using)
    crm = Permission.objects.using(using).filter(
        content_type__app_label=app_config.label,
        codename__in=[f"{action}_{model._meta.model_name}"
                      for model in app_config.get_models() for action in ACTIONS])
    group, _created = Group.objects.using(using).get_or_create(name=MANAGERS_GROUP)
    group.permissions.add(*crm)
