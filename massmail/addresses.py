"""Email address normalisation and validation, in one place.

Addresses are compared, deduplicated and suppressed in their normalised form: trimmed,
with the domain lower-cased (the local part is case-sensitive by RFC 5321, so it is kept).
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def normalise_email(address):
    """Return the normalised form of ``address`` ("" for an empty value)."""
    address = (address or "").strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower()}"


# A non-ASCII local part (RFC 6531): any characters but the ones RFC 5322 reserves.
INTERNATIONAL_LOCAL = re.compile(r"^[^\s@\"(),:;<>\[\]\\.]+(\.[^\s@\"(),:;<>\[\]\\.]+)*$")


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
