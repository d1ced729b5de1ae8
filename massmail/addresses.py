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
    """True when ``address`` is a single syntactically valid address without CR/LF."""
    if not address or "\r" in address or "\n" in address:
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def email_domain(address):
    return address.rpartition("@")[2]
