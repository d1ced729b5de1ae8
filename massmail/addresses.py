"""Email address normalisation and validation, in one place.

Addresses are compared, deduplicated and suppressed in their normalised form: trimmed,
with the domain lower-cased (the local part is case-sensitive by RFC 5321, so it is kept).
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def normalise_email(address):
    """Return the normalised form of ``address`` ("" for an empty value)."""
    address = (address or "").strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local}@{domain.lower()}"


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
