"""The "Sales managers" group: the Django permissions a manager needs in massmail.

Model permissions say which admin pages a manager may open at all; which objects they
see there is decided by ownership (``OwnedAdmin``: their own messages, signatures,
mailings, deliveries and accounts only). Both are needed: the group alone never lets a
manager see another manager's data.

What the group gets, and why:

- message, attachment, signature, mailing: view, add, change, delete. Managers write
  their own newsletters (attachments are an inline of the message, so the inline needs
  its own permissions) and run their own campaigns: "add mailing" is what the "Create
  mailing" button and action on the recipient lists require, "change mailing" what
  activating, pausing and resending require.
- delivery: view only. Deliveries are written by the engine, never in a form (the
  admin has no add or change page for them), and resending failed or unknown rows
  is governed by "change mailing": it changes the outcome of the manager's mailing.
- emailaccount: view. Superusers create and edit accounts and their passwords;
  managers see their own, read-only, and may test their connection.
- Nothing on suppressions or Massmail Settings: those are installation-wide, for
  superusers only. Nothing on Recipient either: VIP flags are set through the actions
  on the host's recipient lists.

The host CRM's own models (Contact, Company, Lead...) are the host's business: a host
that wants managers to reach them through this group adds its own permissions to it.
``sync_manager_permissions`` only ever adds or removes massmail's permissions, so those
stay when it runs again after the next ``migrate``.

A host that already has a managers group names it in ``MASSMAIL["MANAGER_GROUPS"]``:
those groups get the permissions instead, and massmail creates no group of its own (an
existing "Sales managers" group is left as it is). The sync runs after every migrate and
as ``manage.py massmail_sync_permissions``, for after the host loaded its fixtures.
Permissions are looked up under the label massmail is installed with (see naming.py).
"""

import logging

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission

from .conf import conf

logger = logging.getLogger(__name__)

MANAGERS_GROUP = "Sales managers"

# model name -> the actions ("view", "add", "change", "delete") the group has on it.
MANAGER_PERMISSIONS = {
    "message": ("view", "add", "change", "delete"),
    "attachment": ("view", "add", "change", "delete"),
    "signature": ("view", "add", "change", "delete"),
    "mailing": ("view", "add", "change", "delete"),
    "delivery": ("view",),
    "emailaccount": ("view",),
}


def manager_codenames():
    """The codenames of massmail's permissions that the group has."""
    return {f"{action}_{model}" for model, actions in MANAGER_PERMISSIONS.items()
            for action in actions}


def manager_groups(using="default"):
    """(the groups that get the permissions, the MANAGER_GROUPS names that name no group).

    Without MANAGER_GROUPS, massmail's own group, created when missing; with it, only
    the host's groups, never created here: a misspelt name must not invent a group."""
    names = conf.MANAGER_GROUPS
    groups = Group.objects.using(using)
    if not names:
        return [groups.get_or_create(name=MANAGERS_GROUP)[0]], []
    found = list(groups.filter(name__in=names))
    return found, sorted(set(names) - {group.name for group in found})


def sync_manager_permissions(app_config=None, using="default"):
    """Bring massmail's permissions of every manager group to exactly MANAGER_PERMISSIONS;
    returns ``manager_groups()``. Idempotent, so it runs after every migrate.

    auth creates permissions in its own post_migrate handler, which may not have run
    for massmail yet when this one does (handler order follows INSTALLED_APPS), so the
    permissions are created here first; that is idempotent too.
    """
    app_config = app_config or apps.get_containing_app_config(__name__)
    create_permissions(app_config, verbosity=0, using=using)
    label = app_config.label
    wanted = set(Permission.objects.using(using).filter(
        content_type__app_label=label, codename__in=manager_codenames()))
    groups, missing = manager_groups(using)
    for group in groups:
        held = set(group.permissions.filter(content_type__app_label=label))
        group.permissions.remove(*(held - wanted))
        group.permissions.add(*(wanted - held))
    if missing:
        logger.warning('MASSMAIL["MANAGER_GROUPS"] names groups that do not exist: %s. Create '
                       "them (or load the fixtures that do), then run "
                       "`manage.py massmail_sync_permissions`.", ", ".join(missing))
    return groups, missing
