"""Tolerant reading of mailbox messages: anything may arrive in an INBOX.

Messages are parsed with the ``compat32`` policy, which keeps header values as raw
strings and records defects instead of raising; every value is then decoded here with
replacement characters, so a wrong or unknown charset, an 8-bit header or a broken
encoded word costs at most some garbled text, never an exception.
"""

import datetime
import email
import email.policy
import re
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Text read from one message, in characters: enough for any report's human part.
MAX_TEXT = 64 * 1024


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def header(message, name):
    """The decoded value of header ``name`` ("" when absent or undecodable)."""
    value = message.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):  # an email.header.Header of a non-ASCII raw value
        value = str(value)
    try:
        text = str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        text = value
    return " ".join(text.replace("\x00", "").split())


def address(message, name):
    """The first address of header ``name``, lower-cased domain kept as written."""
    try:
        pairs = getaddresses([header(message, name)])
    except (ValueError, IndexError):
        return ""
    return next((addr for _name, addr in pairs if "@" in addr), "")


def date(message):
    try:
        value = parsedate_to_datetime(header(message, "Date"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def message_ids(text):
    """Every ``<id@host>`` in ``text``, in order, without duplicates."""
    return list(dict.fromkeys(MESSAGE_ID.findall(text or "")))


def decoded_payload(part):
    """The text of a non-multipart ``part``, decoded with its charset or replaced."""
    payload = part.get_payload(decode=True)
    if payload is None:
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload[:MAX_TEXT].decode(charset, "replace")
    except LookupError:
        text = payload[:MAX_TEXT].decode("utf-8", "replace")
    return text.replace("\x00", "")


def _own_parts(message):
    """The message's parts, not descending into attached messages (message/*)."""
    yield message
    if message.get_content_maintype() == "multipart" and isinstance(message.get_payload(), list):
        for part in message.get_payload():
            if part.get_content_maintype() != "message":
                yield from _own_parts(part)


def text(message, limit=MAX_TEXT):
    """The text/plain parts of the message itself, not of a message it attaches
    (text/html when it has none), up to ``limit`` characters."""
    plain, html = [], []
    for part in _own_parts(message):
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        (plain if part.get_content_subtype() == "plain" else html).append(part)
    chunks, size = [], 0
    for part in plain or html:
        chunk = decoded_payload(part)
        if not plain:
            chunk = re.sub(r"<[^>]*>", " ", chunk)
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit:
            break
    return "\n".join(chunks)


def first_part(message, content_type):
    return next((part for part in message.walk() if part.get_content_type() == content_type), None)
