"""A readable page instead of a bare "Bad Request (400)" when an admin form is too big.

Django refuses a request body above ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (form fields, 2.5 MB
by default) or with more than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` fields before any view
runs (the CSRF check reads the form first), so no admin view can catch it: the project's
``handler400`` gets it. A host points it here (the example project does)::

    # urls.py of the project
    handler400 = "massmail.too_big.bad_request"

Other bad requests get Django's own 400 page.
"""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.views.defaults import bad_request as django_bad_request

from .conf import conf


def bad_request(request, exception):
    if not isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        return django_bad_request(request, exception)
    from django.conf import settings

    return TemplateResponse(request, "massmail/request_too_big.html", {
        "form_limit": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0),
        "message_limit": filesizeformat(conf.MAX_MESSAGE_BYTES),
        "back": request.META.get("HTTP_REFERER", ""),
    }, status=413)
