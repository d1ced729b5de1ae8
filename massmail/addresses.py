"""Email address normalisation, identity and validation, in one place.

Two forms of an address matter. The *normalised* form is what an email is sent to:
trimmed, with the domain lower-cased and the local part as written (RFC 5321 lets a
server treat it case-sensitively, so we never change what we send). The *key* is how
addresses are compared everywhere: duplicates within a mailing, suppressions,
unsubscribes, bounces and "already received". It is the normalised form lower-cased,
because in practice no mailbox provider tells ``John.Doe@`` from ``john.doe@``, and
treating them as two people mails someone who asked us to stop.

The key uses ``str.lower()`` rather than ``casefold()`` so that it equals SQL
``LOWER()`` of the normalised form (``key_expression``): a valid address has an ASCII
local part and its domain is already lower-cased by ``normalise_email``, so both
databases agree with Python on every address that can be mailed.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower

# Separators between several addresses in one host field ("a@x.org, b@y.org").
ADDRESS_SEPARATORS = re.compile(r"[,;]")


def normalise_email(address):
    """Return the normalised form of ``address`` ("" for an empty value)."""
    address = (address or "").strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower()}"


def address_key(address):
    """The comparison key of ``address``: normalised, then lower-cased."""
    return normalise_email(address).lower()


def key_expression(field):
    """SQL twin of ``address_key`` for a column that holds normalised addresses
    (Delivery.email; Suppression.email already stores the key)."""
    return Lower(field)


def split_addresses(value):
    """The normalised addresses in ``value`` split at commas and semicolons, empty parts
    dropped, first occurrence of each key kept, in order."""
    found = {}
    for part in ADDRESS_SEPARATORS.split(value or ""):
        address = normalise_email(part)
        if address:
            found.setdefault(address.lower(), address)
    return list(found.values())


def is_valid_email(address):
    """True when ``address`` is a single valid address that an email can carry: no
    CR/LF, an ASCII local part (SMTPUTF8 is not used) and a domain that IDNA encodes."""
    if not address or "\r" in address or "\n" in address:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    local, _at, domain = address.rpartition("@")
    try:
        domain.encode("idna")
    except UnicodeError:
        return False
    return local.isascii()


def email_domain(address):
    return address.rpartition("@")[2]
