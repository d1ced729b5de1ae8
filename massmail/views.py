"""The public unsubscribe endpoint: the only massmail URL a recipient ever reaches.

The link in an email is opened by people, but also by the link scanners of mail gateways
and by prefetchers, which follow every link. So GET never changes anything: it serves a
page whose form POSTs by itself (and shows its button when script is off). Mail clients
use the RFC 8058 one-click POST on the same URL, without cookies or a CSRF token.

The page is anonymous and unbranded on purpose: it names neither the CRM nor the sender
and links nowhere, so the URL reveals nothing about the CRM behind it and the host can
expose just this path to the internet.

No CSRF check, for either POST: the signed token in the URL is the only credential, and
a forged request needs that token just as much as a real one; there is no cookie or
session whose ambient authority a cross-site request could borrow. A CSRF check would
only add ways to fail: under ``Referrer-Policy: no-referrer`` browsers send
``Origin: null`` with the form's POST, which Django's check rejects, and cookies may be
blocked or the public host behind a proxy may not match. The page sets no cookie at all.
"""

import secrets

from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import tokens
from .models import Delivery, MassmailSettings, Suppression
from .unsubscribe import unsubscribe as unsubscribe_address

NOTHING_ALLOWED = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"


@csrf_exempt  # The token authorises, see above.
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def unsubscribe(request, token):
    delivery = _delivery(token)
    if delivery is None:
        response = render(request, "massmail/unsubscribe_invalid.html", status=400)
    elif request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
        # RFC 8058: the mail client expects 200, never a redirect.
        unsubscribe_address(delivery.email, mailing=delivery.mailing,
                            channel=Suppression.Channel.ONE_CLICK)
        response = HttpResponse(_("You have been unsubscribed."),
                                content_type="text/plain; charset=utf-8")
    else:
        response = _page(request, delivery)
    # The URL carries the token: keep it out of Referer headers and search indexes.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("Content-Security-Policy", NOTHING_ALLOWED)
    return response


def _delivery(token):
    """The delivery named by ``token``, or None when the token is forged, damaged or
    names a delivery that no longer exists."""
    try:
        delivery_id = tokens.read_token(token)
    except signing.BadSignature:
        return None
    return Delivery.objects.select_related("mailing").filter(pk=delivery_id).first()


def _page(request, delivery):
    """The page (GET), and its form's POST: any POST that is not RFC 8058's one-click."""
    if request.method == "POST":
        unsubscribe_address(delivery.email, mailing=delivery.mailing,
                            channel=Suppression.Channel.PAGE)
        return HttpResponseRedirect(MassmailSettings.load().unsubscribe_url, status=303)
    nonce = secrets.token_urlsafe(16)
    response = render(request, "massmail/unsubscribe.html", {"nonce": nonce})
    # Nothing but the page's own inline script and style may run. No form-action: the
    # browser would apply it to the redirect to the (external) page after unsubscribing.
    response["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    return response
