""""Connect" on the email account's admin page: starts the OAuth2 flow (flow.py) for
an account that signs in with Microsoft 365 or Google.

A mixin of the account admin, so that it checks ownership the same way as the page
itself: the owner or a superuser may connect; anyone else's account is a 404.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from ..models import AuthMethod
from . import flow
from .exceptions import ProviderNotConfigured


class ConnectMailboxMixin:
    oauth_readonly_fields = ("oauth_address", "oauth_connected_at")

    def get_queryset(self, request):
        # Lists and pages never need the refresh token: no decryption per row.
        return super().get_queryset(request).defer("oauth_refresh_token")

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self.oauth_readonly_fields)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/connect/",
                 self.admin_site.admin_view(require_POST(self.connect_view)),
                 name="{}_{}_connect".format(*info)),
            *super().get_urls(),
        ]

    def connect_view(self, request, object_id):
        account = self.owned_object(request, object_id)
        info = self.admin_site.name, self.opts.app_label, self.opts.model_name
        change_url = reverse("{}:{}_{}_change".format(*info), args=[account.pk])
        if account.auth_method == AuthMethod.PASSWORD:
            self.message_user(request, gettext("%(account)s signs in with a password: choose "
                                               "Microsoft 365 or Google as its sign-in method "
                                               "first.") % {"account": account}, messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            return HttpResponseRedirect(flow.start(request, account, change_url))
        except ProviderNotConfigured as exc:
            self.message_user(request, gettext("Cannot connect %(account)s: %(error)s") % {
                "account": account, "error": exc}, messages.ERROR)
            return HttpResponseRedirect(change_url)
