"""The records a "Create mailing" page left out, for one reason, on the recipient list.

Each "left out" reason of the count page links back to the recipient list with the same
filters and search (or the same selection), plus ``massmail_left_out=<reason>``: this
filter then shows exactly the records that the rules of ``create_mailing`` leave out for
that reason, checked in the same order (a record without an address and owned by someone
else counts as "owned by another manager" only). Everything but the address syntax is
decided in SQL; invalid addresses are found by streaming the remaining addresses once.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from ..addresses import is_valid_email, normalise_email
from ..audience import Exclusion, with_eligibility
from ..models import Delivery, Suppression
from ..recipients import source_for_model

LEFT_OUT_PARAM = "massmail_left_out"
# The stored selection the page was about (see recipients.py), when it was one.
SELECTION_PARAM = "_massmail_selection"
OWNER_PARAM = "massmail_owner"
# Set when the page left out addresses that already received this message.
MESSAGE_PARAM = "massmail_message"


def left_out(records, reason, owner_id, message_id=None):
    """The records of ``records`` (a recipient admin's queryset, annotated with
    ``_massmail_email`` and ``_massmail_suppression``) left out for ``reason``."""
    source = source_for_model(records.model)
    owned = Q(**{source.owner_field: owner_id})
    if reason == Exclusion.NOT_OWNER:
        return records.exclude(owned)
    records = records.filter(owned)
    field = source.email_field
    no_address = Q(**{field: ""}) | Q(**{f"{field}__isnull": True})
    if reason == Exclusion.NO_ADDRESS:
        return records.filter(no_address)
    records = records.exclude(no_address)
    invalid = [pk for pk, address in records.values_list("pk", field).iterator()
               if not is_valid_email(normalise_email(address))]
    if reason == Exclusion.INVALID_ADDRESS:
        return records.filter(pk__in=invalid)
    records = with_eligibility(source, records.exclude(pk__in=invalid))
    if reason == Exclusion.NOT_ELIGIBLE:
        return records.filter(_massmail_eligible=False)
    records = records.filter(_massmail_eligible=True)
    if source.subscribed_field:
        if reason == Exclusion.HOST_UNSUBSCRIBED:
            return records.filter(**{source.subscribed_field: False})
        records = records.filter(**{source.subscribed_field: True})
    return _by_address(records, reason, message_id)


def _by_address(records, reason, message_id):
    """The reasons decided by the address: suppressions, earlier mailings, duplicates."""
    unsubscribed = Q(_massmail_suppression=Suppression.Reason.UNSUBSCRIBED)
    if reason == Exclusion.UNSUBSCRIBED:
        return records.filter(unsubscribed)
    if reason == Exclusion.SUPPRESSED:
        return records.filter(_massmail_suppression__isnull=False).exclude(unsubscribed)
    records = records.filter(_massmail_suppression__isnull=True)
    if message_id:
        received = Exists(Delivery.objects.filter(
            mailing__message_id=message_id, status=Delivery.Status.SENT,
            email=OuterRef("_massmail_email")))
        if reason == Exclusion.ALREADY_RECEIVED:
            return records.filter(received)
        records = records.exclude(received)
    if reason == Exclusion.DUPLICATE:
        # Any but the first record of an address is the duplicate.
        return records.filter(Exists(records.filter(
            _massmail_email=OuterRef("_massmail_email"), pk__lt=OuterRef("pk"))))
    return records.none()


class LeftOutFilter(admin.ListFilter):
    """Applies ``left_out`` when the list's URL asks for it (the count page links to it),
    and only then shows in the sidebar, with a way back to the whole list."""

    title = _("left out at creation")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {name: _last(params.pop(name, None)) for name in self.expected_parameters()}
        self.user = request.user
        self.model_admin = model_admin

    def expected_parameters(self):
        return [LEFT_OUT_PARAM, OWNER_PARAM, MESSAGE_PARAM, SELECTION_PARAM]

    def has_output(self):
        return any(value is not None for value in self.values.values())

    def choices(self, changelist):
        reason = self.values[LEFT_OUT_PARAM]
        yield {"selected": False, "display": _("All"),
               "query_string": changelist.get_query_string(remove=self.expected_parameters())}
        yield {"selected": True, "display": Exclusion.LABELS.get(reason, _("the selection")),
               "query_string": changelist.get_query_string()}

    def queryset(self, request, queryset):
        token = self.values[SELECTION_PARAM]
        if token is not None:
            ids = self.model_admin.massmail_selected_ids(request, token)
            queryset = queryset.filter(pk__in=ids or [])
        reason = self.values[LEFT_OUT_PARAM]
        if reason not in Exclusion.LABELS:
            return queryset
        owner_id = _int(self.values[OWNER_PARAM]) if self.user.is_superuser else self.user.pk
        return left_out(queryset, reason, owner_id, _int(self.values[MESSAGE_PARAM]))


def _last(value):
    """A list filter gets lists of values (Django 5+); the last one counts."""
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def _int(value):
    """A positive id from the URL, or None (a damaged link shows nothing, never a 500)."""
    return int(value) if value and value.isascii() and value.isdigit() else None
