"""Public views: the unsubscribe page (see the unsubscribe issue for the full behaviour)."""

from django.http import HttpResponseBadRequest


def unsubscribe(request, token):
    return HttpResponseBadRequest("Not available yet.")
