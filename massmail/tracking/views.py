"""The redirect of tracked links: ``/massmail/c/<token>/<link id>/``.

It always answers 302 to the URL stored for the link id, never to anything taken from
the request, so it is no open redirect. An unknown link id is a 404. A forged token, or
one naming a delivery of another message, still redirects (a person may have pasted a
damaged link) and records nothing. The click and its verdict cost a few indexed
queries; the redirect is never held up by anything slower.
"""

from django.http import Http404, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..models import TrackedLink
from .verdicts import record_click


@require_http_methods(["GET", "HEAD"])
@never_cache
def click(request, token, link_id):
    link = TrackedLink.objects.filter(pk=link_id).only("url", "message_id", "honeypot").first()
    if link is None:
        raise Http404
    record_click(request, token, link)
    response = HttpResponseRedirect(link.url)
    # The URL carries the token: keep it out of the target's Referer and search indexes.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
