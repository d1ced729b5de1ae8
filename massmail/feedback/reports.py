"""Machine-readable reports: delivery status notifications (RFC 3464) and complaint
reports (ARF, RFC 5965).

Both are ``multipart/report`` messages with a machine part (``message/delivery-status``
or ``message/feedback-report``) and, usually, the original message or its headers,
whose Message-ID says which delivery the report is about.
"""

from dataclasses import dataclass, field
from email.parser import HeaderParser

from . import parse


@dataclass
class Failure:
    """One recipient of a report: ``status`` is an enhanced status code ("5.1.1")."""

    email: str
    status: str = ""
    diagnostic: str = ""

    @property
    def permanent(self):
        return self.status.startswith("5")


@dataclass
class Report:
    failures: list = field(default_factory=list)
    original_ids: list = field(default_factory=list)


def _field_blocks(part):
    """The header blocks of a delivery-status or feedback-report part, as Messages."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    text = parse.decoded_payload(part)
    return [HeaderParser().parsestr(block) for block in text.replace("\r\n", "\n").split("\n\n")
            if block.strip()]


def _address_field(block, *names):
    """The address of the first of ``names`` present: "rfc822; a@b" -> "a@b"."""
    for name in names:
        value = parse.header(block, name)
        if value:
            address = value.partition(";")[2].strip() if ";" in value else value.strip()
            return address.strip("<>")
    return ""


def original_headers(message):
    """The headers of the returned original message (message/rfc822 or
    text/rfc822-headers part), or None."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        elif kind in ("text/rfc822-headers", "message/rfc822-headers"):
            return HeaderParser().parsestr(parse.decoded_payload(part))
    return None


def original_ids(message):
    """Message-IDs that the report names as the original message: the returned
    headers' Message-ID, else the report's own In-Reply-To and References."""
    original = original_headers(message)
    ids = parse.message_ids(parse.header(original, "Message-ID")) if original is not None else []
    ids += parse.message_ids(parse.header(message, "In-Reply-To"))
    ids += parse.message_ids(parse.header(message, "References"))
    return list(dict.fromkeys(ids))


def delivery_status(message):
    """The failed and delayed recipients of a DSN; "delivered", "relayed" and
    "expanded" recipients are good news and left out."""
    part = parse.first_part(message, "message/delivery-status")
    report = Report(original_ids=original_ids(message))
    for block in _field_blocks(part)[1:] if part is not None else []:
        action = parse.header(block, "Action").lower()
        status = parse.header(block, "Status").split(" ")[0]
        if action not in ("failed", "delayed"):
            continue
        if status[:1] not in ("4", "5"):
            status = "5.0.0" if action == "failed" else "4.0.0"
        if action == "delayed" and status.startswith("5"):
            status = "4" + status[1:]
        report.failures.append(Failure(
            email=_address_field(block, "Original-Recipient", "Final-Recipient"),
            status=status, diagnostic=parse.header(block, "Diagnostic-Code")[:1000],
        ))
    return report


def complaint(message):
    """The complained-about recipient of an ARF report (often redacted: then only the
    original Message-ID identifies the delivery)."""
    part = parse.first_part(message, "message/feedback-report")
    blocks = _field_blocks(part) if part is not None else []
    fields = blocks[0] if blocks else None
    original = original_headers(message)
    email = ""
    if fields is not None:
        email = _address_field(fields, "Original-Rcpt-To", "Removal-Recipient")
    if not email and original is not None:
        email = parse.address(original, "To")
    kind = parse.header(fields, "Feedback-Type") if fields is not None else ""
    return Report(failures=[Failure(email=email, status="", diagnostic=kind or "abuse")],
                  original_ids=original_ids(message))
