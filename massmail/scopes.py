"""Team scopes: whose mailings, messages, deliveries and reports a user may view.

Sales teams have leads who follow their team's campaigns without running them. The host
names a function in ``MASSMAIL["OWNER_SCOPE"]`` that takes a user and returns a queryset
of the users (owners) whose objects that user may view, for example the members of the
departments they head. Viewing is all a scope gives: changing, activating and sending
stay with the owner (and superusers), see admin/owned.py.
"""

from django.db.models import Q
from django.utils.module_loading import import_string

from .conf import conf


def scope_filter(user, owner_field="owner"):
    """Q of the objects ``user`` may view: their own and those of the owners in their scope."""
    own = Q(**{owner_field: user.pk})
    if not conf.OWNER_SCOPE:
        return own
    owners = import_string(conf.OWNER_SCOPE)(user)
    return own | Q(**{f"{owner_field}__in": owners.values("pk")})
