"""The public unsubscribe endpoint: the only massmail URLs a recipient ever reaches.

The link in an email is opened by people, but also by the link scanners of mail gateways
(Safe Links, Mimecast, Proofpoint run a headless browser with script on) and by
prefetchers, which follow every link. So GET never changes anything and nothing on the
page submits by itself: the recipient sees who sends the emails, their own address
partly masked, and one button. Mail clients use the RFC 8058 one-click POST on the same
URL, without cookies or a CSRF token, and get a 200 without a redirect.

The token carries the address (see tokens.py), so the page and both POSTs work after the
mailing, delivery, CRM record or manager is deleted.

No CSRF check, for either POST: the signed token in the URL is the only credential, and
a forged request needs that token just as much as a real one; there is no cookie or
session whose ambient authority a cross-site request could borrow. A CSRF check would
only add ways to fail: under ``Referrer-Policy: no-referrer`` browsers send
``Origin: null`` with the form's POST, which Django's check rejects, and cookies may be
blocked or the public host behind a proxy may not match. The pages set no cookie at all.
"""

from urllib.parse import urlsplit

from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import tokens
from .addresses import address_key
from .conf import conf
from .models import Delivery, Mailing, MassmailSettings, Suppression
from .suppressions import by_key
from .unsubscribe import unsubscribe as unsubscribe_address

# The pages have no script, no form target elsewhere and nothing to load.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"


def _protect(response):
    # The URL carries the token: keep it out of Referer headers and search indexes.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Content-Security-Policy"] = PAGE_POLICY
    return response


@csrf_exempt  # The token authorises, see above.
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def unsubscribe(request, token):
    resolved = _resolve(token)
    if resolved is None:
        return _protect(render(request, "massmail/unsubscribe_invalid.html", status=400))
    email, mailing = resolved
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == "One-Click":
        # RFC 8058: the mail client expects 200, never a redirect.
        unsubscribe_address(email, mailing=mailing, channel=Suppression.Channel.ONE_CLICK)
        return _protect(HttpResponse(_("You have been unsubscribed."),
                                     content_type="text/plain; charset=utf-8"))
    settings = MassmailSettings.load()
    if request.method == "POST":
        unsubscribe_address(email, mailing=mailing, channel=Suppression.Channel.PAGE)
        return _protect(HttpResponseRedirect(settings.page_after_unsubscribing(), status=303))
    return _protect(render(request, "massmail/unsubscribe.html", {
        "sender": sender_name(settings),
        "masked_email": mask_email(email),
        "already": by_key([address_key(email)]).exists(),
    }))


@never_cache
def unsubscribed(request):
    """Where the page's POST leads when Massmail Settings name no page of the host."""
    return _protect(render(request, "massmail/unsubscribed.html",
                           {"sender": sender_name(MassmailSettings.load())}))


def _resolve(token):
    """(address, mailing or None) of ``token``; None when the token is forged or
    damaged, or is a first-format token whose delivery no longer exists."""
    try:
        target = tokens.read_token(token)
    except signing.BadSignature:
        return None
    if target.email is None:
        delivery = Delivery.objects.select_related("mailing").filter(pk=target.delivery_id).first()
        return None if delivery is None else (delivery.email, delivery.mailing)
    mailing = Mailing.objects.filter(pk=target.mailing_id).first() if target.mailing_id else None
    return target.email, mailing


def sender_name(settings):
    """Who sends the emails, as the page names them: the company name of the settings,
    else the host name of the site the link points to."""
    return settings.company_name or urlsplit(conf.SITE_URL).hostname or ""


def mask_email(email):
    """``j***@e***.org``: enough for the recipient to recognise their address, not
    enough for someone looking over their shoulder or at a screenshot."""
    local, _at, domain = email.rpartition("@")
    name, dot, suffix = domain.rpartition(".")
    if not dot:
        name, suffix = domain, ""
    return f"{local[:1]}***@{name[:1]}***{dot}{suffix}"
