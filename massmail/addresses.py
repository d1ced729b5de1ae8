"""Email address normalisation, identity and validation, in one place.

Two forms of an address matter. The *normalised* form is what an email is sent to:
trimmed, with the domain lower-cased and the local part as written (RFC 5321 lets a
server treat it case-sensitively, so we never change what we send). The *key* is how
addresses are compared everywhere: duplicates within a mailing, suppressions,
unsubscribes, bounces and "already received". It is the normalised form lower-cased,
because in practice no mailbox provider tells ``John.Doe@`` from ``john.doe@``, and
treating them as two people mails someone who asked us to stop.

The key uses ``str.lower()`` rather than ``casefold()`` so that it equals SQL
``LOWER()`` of the normalised form (``key_expression``) for every ASCII address, whose
domain ``normalise_email`` has already lower-cased; set-based creation leaves any other
address (a non-ASCII local part, sent only with SMTPUTF8) to Python.
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


# A non-ASCII local part (RFC 6531): any characters but the ones RFC 5322 reserves.
INTERNATIONAL_LOCAL = re.compile(r"^[^\s@\"(),:;<>\[\]\\.]+(\.[^\s@\"(),:;<>\[\]\\.]+)*$")
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
    CR/LF and a domain that IDNA encodes. A non-ASCII local part is valid too; it is
    sent when the server offers SMTPUTF8 and skipped with that reason otherwise."""
    if not address or "\r" in address or "\n" in address:
        return False
    local, _at, domain = address.rpartition("@")
    if not local.isascii():
        if not INTERNATIONAL_LOCAL.match(local):
            return False
        address = f"x@{domain}"
    try:
        validate_email(address)
        domain.encode("idna")
    except (ValidationError, UnicodeError):
        return False
    return True


def email_domain(address):
    return address.rpartition("@")[2]
