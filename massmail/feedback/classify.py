"""What a mailbox message is, decided in a fixed order: a delivery status notification
(RFC 3464, or a plain-text bounce through the fallback detector), a complaint report
(ARF), an auto-reply (RFC 3834 and the usual headers and subjects), a human reply,
anything else.

The order matters: a DSN carries ``Auto-Submitted: auto-replied`` too, and an
out-of-office reply quotes the original like a human reply does. Classifying needs no
database: whether a reply answers one of our messages is decided in ``match``.
"""

import hashlib
import re
from dataclasses import dataclass, field

from . import fallback, parse, reports

BOUNCE = "bounce"
COMPLAINT = "complaint"
AUTO_REPLY = "auto_reply"
REPLY = "reply"
OTHER = "other"

AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoreply|"
    r"automated response|on (vacation|holiday|leave)|away from (the )?office|"
    r"abwesenheitsnotiz|abwesenheit|automatische antwort|nicht im b[üu]ro|"
    r"r[ée]ponse automatique|absence|absent du bureau|message d'absence|"
    r"respuesta autom[áa]tica|fuera de (la )?oficina|ausente|ausencia|de vacaciones", re.I)
PRECEDENCE_AUTO = re.compile(r"^(auto_reply|bulk|junk)$", re.I)
REPLY_PREFIX = re.compile(r"^\s*(re|aw|antw|antwort|sv|vs|r|rif|res|ref|réf|wg)\s*(\[\d+\])?\s*:",
                          re.I)
UNSUBSCRIBE = re.compile(
    r"\b(unsubscribe|remove me|take me off|opt[- ]?out|stop (sending|emailing|mailing)|"
    r"abmelden|austragen|abbestellen|keine (weiteren )?(e-?mails|newsletter|mails)|"
    r"d[ée]sinscri|d[ée]sabonn|ne plus recevoir|dar(me|se)? de baja|"
    r"no (quiero )?recibir m[áa]s)", re.I)


@dataclass
class Feedback:
    kind: str
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    date: object = None
    # Message-IDs that may be ours: the original of a report, In-Reply-To/References.
    original_ids: list = field(default_factory=list)
    # Bounces and complaints: one Failure per recipient.
    failures: list = field(default_factory=list)
    unsubscribe: bool = False


def is_auto_reply(message):
    auto_submitted = parse.header(message, "Auto-Submitted").lower()
    return bool(
        (auto_submitted and not auto_submitted.startswith("no"))
        or message.get("X-Autoreply") or message.get("X-Autorespond")
        or message.get("X-Auto-Response-Suppress")
        or PRECEDENCE_AUTO.match(parse.header(message, "Precedence"))
        or AUTO_SUBJECT.search(parse.header(message, "Subject"))
    )


def _report_type(message):
    if message.get_content_type() != "multipart/report":
        return ""
    return (message.get_param("report-type") or "").lower()


def first_line(message):
    """The first line of text the sender wrote (quoted lines are skipped)."""
    for line in parse.text(message, limit=4096).splitlines():
        line = line.strip()
        if line and not line.startswith(">"):
            return line[:200]
    return ""


def report_key(message, data):
    """The report's own Message-ID, or a digest of the message when it has none."""
    ids = parse.message_ids(parse.header(message, "Message-ID"))
    return ids[0] if ids else "sha256:" + hashlib.sha256(data[:65536]).hexdigest()


def classify(data, own_addresses=()):
    """The Feedback of the raw message ``data`` (bytes); garbage is OTHER."""
    message = parse.parse(data)
    base = {"message_id": report_key(message, data), "sender": parse.address(message, "From"),
            "subject": parse.header(message, "Subject")[:255], "date": parse.date(message)}
    report_type = _report_type(message)
    if report_type == "delivery-status":
        report = reports.delivery_status(message)
        return Feedback(BOUNCE, failures=report.failures, original_ids=report.original_ids, **base)
    report = None if report_type else fallback.detect(message, own_addresses)
    if report is not None:
        return Feedback(BOUNCE, failures=report.failures, original_ids=report.original_ids, **base)
    if report_type == "feedback-report":
        report = reports.complaint(message)
        return Feedback(COMPLAINT, failures=report.failures, original_ids=report.original_ids,
                        **base)
    references = parse.message_ids(parse.header(message, "In-Reply-To") + " "
                                   + parse.header(message, "References"))
    if is_auto_reply(message):
        return Feedback(AUTO_REPLY, original_ids=references, **base)
    if references or REPLY_PREFIX.match(base["subject"]):
        asks = UNSUBSCRIBE.search(base["subject"]) or UNSUBSCRIBE.search(first_line(message))
        return Feedback(REPLY, original_ids=references, unsubscribe=bool(asks), **base)
    return Feedback(OTHER, **base)
