"""Who a mailing may reach: the rules shared by mailing creation and by every send.

The same source-level facts decide at creation (for a whole queryset, streamed in
chunks) and at send time (for the records of one batch): the record still exists, is
owned by the mailing's owner, is eligible by its source, is subscribed in the host CRM,
has a valid address, and the address is not suppressed. A record may hold several
addresses (RecipientSource.addresses); each valid one is its own delivery, and
duplicates and suppressions are decided per address.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from . import suppressions
from .addresses import address_key, is_valid_email, normalise_email
from .models import Suppression


class Exclusion:
    """Reasons a record is left out, as stored in Mailing.excluded and Delivery.skip_reason."""

    NOT_OWNER = "not_owner"
    NO_ADDRESS = "no_address"
    INVALID_ADDRESS = "invalid_address"
    NOT_ELIGIBLE = "not_eligible"
    HOST_UNSUBSCRIBED = "host_unsubscribed"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    ALREADY_RECEIVED = "already_received"
    DUPLICATE = "duplicate"

    LABELS = {
        NOT_OWNER: _("owned by another manager"),
        NO_ADDRESS: _("no email address"),
        INVALID_ADDRESS: _("invalid email address"),
        NOT_ELIGIBLE: _("not eligible"),
        HOST_UNSUBSCRIBED: _("not subscribed in the CRM"),
        UNSUBSCRIBED: _("unsubscribed"),
        SUPPRESSED: _("suppressed (bounced, complained or blocked)"),
        ALREADY_RECEIVED: _("already received this message"),
        DUPLICATE: _("duplicate address"),
    }


@dataclass(frozen=True)
class Candidate:
    """The facts about one host record that the rules need, without the record itself."""

    object_id: int
    addresses: tuple  # normalised, in the order of the record (RecipientSource.addresses)
    owner_id: int | None
    subscribed: bool
    eligible: bool

    def has_address(self, email):
        """True when ``email`` is one of the record's addresses, in any letter case."""
        return address_key(email) in {address_key(a) for a in self.addresses}


@dataclass(frozen=True)
class Entry:
    """One address of one accepted record: a delivery to be."""

    object_id: int
    email: str


def with_eligibility(source, queryset, among=None):
    """``queryset`` annotated with ``_massmail_eligible`` (the source's eligible()).

    ``among``, a queryset of the same model holding every record of ``queryset``,
    narrows the records eligible() is asked about: PostgreSQL may hash the eligible
    records once per query, and a chunk should not cost a scan of the whole table."""
    model = source.get_model()
    records = model._default_manager.all() if among is None else among.order_by()
    eligible = source.eligible(records).filter(pk=OuterRef("pk"))
    return queryset.annotate(_massmail_eligible=Exists(eligible))


def candidates(source, queryset, chunk_size=2000):
    """Stream ``queryset``'s records as Candidates in id order, one query, never all in
    memory.

    Reads the email column when the source allows it (``reads_email_column``), else
    loads the records to ask ``source.addresses()``."""
    # In id order, so "the first record that has an address" is well defined.
    queryset = with_eligibility(source, queryset.order_by("pk"))
    if not source.reads_email_column:
        for record in queryset.iterator(chunk_size=chunk_size):
            yield candidate_of(source, record)
        return
    fields = ["pk", source.email_field, f"{source.owner_field}_id", "_massmail_eligible"]
    if source.subscribed_field:
        fields.append(source.subscribed_field)
    for row in queryset.values_list(*fields).iterator(chunk_size=chunk_size):
        subscribed = bool(row[4]) if source.subscribed_field else True
        yield Candidate(row[0], tuple(source.addresses_in(row[1])), row[2], subscribed, row[3])


def candidate_of(source, record):
    """The Candidate of a record loaded through with_eligibility(). The addresses are
    normalised again, in case a host's ``addresses()`` returns them as typed."""
    addresses = (normalise_email(address) for address in source.addresses(record))
    return Candidate(record.pk, tuple(address for address in addresses if address),
                     source.get_owner_id(record), source.is_subscribed(record),
                     record._massmail_eligible)


def record_exclusion(candidate, owner_id):
    """The reason the whole record is excluded before any address lookup, or None.

    A record with several addresses is excluded as invalid only when none of them is
    valid; its other invalid addresses are counted one by one (``entries``)."""
    if candidate.owner_id != owner_id:
        return Exclusion.NOT_OWNER
    if not candidate.addresses:
        return Exclusion.NO_ADDRESS
    if not any(is_valid_email(address) for address in candidate.addresses):
        return Exclusion.INVALID_ADDRESS
    if not candidate.eligible:
        return Exclusion.NOT_ELIGIBLE
    if not candidate.subscribed:
        return Exclusion.HOST_UNSUBSCRIBED
    return None


def entries(candidates_, owner_id, excluded):
    """The Entries (record, valid address) of ``candidates_``; what is left out is
    counted by reason in the Counter ``excluded``: a record once, an invalid address of
    an otherwise valid record once per address."""
    found = []
    for candidate in candidates_:
        reason = record_exclusion(candidate, owner_id)
        if reason:
            excluded[reason] += 1
            continue
        for address in candidate.addresses:
            if is_valid_email(address):
                found.append(Entry(candidate.object_id, address))
            else:
                excluded[Exclusion.INVALID_ADDRESS] += 1
    return found


def suppression_reasons(emails: Iterable[str]):
    """{email: Exclusion reason} for the suppressed ones among ``emails``, compared by
    address key (the returned keys are the emails as given)."""
    emails_by_key = {}
    for email in emails:
        emails_by_key.setdefault(address_key(email), []).append(email)
    rows = suppressions.by_key(emails_by_key).values_list("_key", "reason")
    return {
        email: _suppression_exclusion(reason)
        for key, reason in rows for email in emails_by_key[key]
    }


def _suppression_exclusion(reason):
    if reason == Suppression.Reason.UNSUBSCRIBED:
        return Exclusion.UNSUBSCRIBED
    return Exclusion.SUPPRESSED
