"""The OAuth2 callback: where the provider sends the browser back after "Connect".

It is not an admin view (its path is registered with the providers, so it must not
depend on where the host mounts the admin), but it answers only a signed-in staff user,
the one who started the flow (see flow.py). It returns to the account's admin page with
a message; a state that is forged, replayed or someone else's gets a 400 page and
changes nothing.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import flow


@require_GET
@never_cache
def callback(request):
    if not (request.user.is_authenticated and request.user.is_staff):
        return _refused(request, _("Sign in to the admin, then click \"Connect\" on the "
                                   "account's page again."), status=403)
    try:
        account, return_url = flow.finish(request)
    except flow.Refused as exc:
        if exc.return_url is None:
            return _refused(request, str(exc))
        messages.error(request, str(exc))
        return HttpResponseRedirect(exc.return_url)
    messages.success(request, _("%(account)s is connected: it signs in as %(address)s.") % {
        "account": account, "address": account.oauth_address})
    return HttpResponseRedirect(return_url)


def _refused(request, reason, status=400):
    response = render(request, "massmail/oauth_refused.html", {"reason": reason}, status=status)
    response["Referrer-Policy"] = "no-referrer"  # the URL carries the code
    return response
