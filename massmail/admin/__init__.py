"""massmail's admin: its own models, and the mixin a host adds to its recipient admins."""

from . import accounts, feedback, mailings, messages, settings, suppressions  # noqa: F401 (registers)
from .recipients import RecipientAdminMixin
from .sites import register  # massmail's admins on a host's own AdminSite too

__all__ = ["RecipientAdminMixin", "register"]
