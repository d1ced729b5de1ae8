"""What the delivery list shows of each row, and what a resend does, in words.

A delivery names a CRM record through ``Recipient`` (content type + id). The list shows
the record's name linked to its page in the host's admin: the records of a page are
fetched per recipient model, one query each, never one per row. A record that is gone
shows as such. Resending reports what happened: rows queued again, rows left alone
because their address is suppressed, or that nothing was resendable.
"""

from collections import defaultdict

from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import api

REPLY_CHARS = 80


class DeliveryChangeList(ChangeList):
    """Resolves the recipients' names and admin links for the whole page."""

    def get_results(self, request):
        super().get_results(request)
        labels = recipient_labels(self.result_list, self.model_admin.admin_site, request)
        for delivery in self.result_list:
            delivery.massmail_recipient = labels.get(delivery.recipient_id)


def recipient_labels(deliveries, admin_site, request):
    """{recipient id: HTML of the record's name, linked when the user may view it}."""
    ids_by_type = defaultdict(dict)  # content type id -> {object id: recipient id}
    for delivery in deliveries:
        recipient = delivery.recipient
        ids_by_type[recipient.content_type_id][recipient.object_id] = recipient.pk
    labels = {}
    for content_type_id, recipients in ids_by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        records = model._base_manager.in_bulk(list(recipients)) if model else {}
        link = _change_url(model, admin_site, request)
        for object_id, recipient_id in recipients.items():
            record = records.get(object_id)
            if record is None:
                labels[recipient_id] = format_html("<em>{}</em>", _("record deleted"))
            elif link:
                labels[recipient_id] = format_html('<a href="{}">{}</a>', link(object_id), record)
            else:
                labels[recipient_id] = format_html("{}", record)
    return labels


def _change_url(model, admin_site, request):
    """A function of an object id giving its change page in ``admin_site``, or None when
    the model is not there or the user may not view its records."""
    if not admin_site.is_registered(model):
        return None
    if not admin_site.get_model_admin(model).has_view_or_change_permission(request):
        return None
    opts = model._meta
    return lambda pk: reverse(f"{admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[pk])


def reply_text(delivery):
    """The server's code and reply (or the error), shortened for a list cell."""
    text = " ".join(f"{delivery.smtp_code or ''} {delivery.smtp_reply}".split())
    return Truncator(text).chars(REPLY_CHARS) if text else ""


def resend(model_admin, request, rows):
    """Queue ``rows`` (failed or unknown, annotated with ``_suppression``) again, except
    those whose address is suppressed, and report both numbers; with nothing to resend,
    say so and change nothing."""
    suppressed = rows.filter(_suppression__isnull=False).count()
    queued = api.resend(rows.filter(_suppression__isnull=True)) if rows.exists() else 0
    if not queued and not suppressed:
        model_admin.message_user(request, _("None of the selected deliveries can be resent: "
                                            "nothing was changed."), messages.WARNING)
        return
    text = ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.",
                    queued) % {"count": queued}
    if suppressed:
        text += " " + ngettext(
            "%(count)d skipped: its address is suppressed (unsubscribed or bounced).",
            "%(count)d skipped: their addresses are suppressed (unsubscribed or bounced).",
            suppressed) % {"count": suppressed}
    model_admin.message_user(request, text, messages.SUCCESS if queued else messages.WARNING)
