"""Bounces that are not RFC 3464 reports: qmail, old Exchange, Yahoo, Exim and
Postfix configured for plain-text bounces, and other hand-written notices.

Our own few rules rather than flufl.bounce (see the README): we also need to know
whether the failure is permanent or temporary and the status code, and we only look at
messages that come from a mail system (null or MAILER-DAEMON/postmaster sender, or a
bounce subject) so that an out-of-office text that says "could not be delivered" is
never taken for a bounce.
"""

import re

from . import parse
from .reports import Failure, Report, original_ids

DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|"
                           r"mail\.?delivery\.?(system|subsystem)|bounces?|nobody)@", re.I)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery (status notification|failure|has failed)|"
    r"failure notice|mail delivery (failed|failure|system)|returned mail|"
    r"delivery notification|could not be delivered|nicht zustellbar|unzustellbar|"
    r"non remis|non distribuable|no se puede entregar|warning: could not send|"
    r"delayed mail|delivery delayed|message not delivered", re.I)
# Where the returned original starts: addresses below it are not the failed ones.
ORIGINAL_MARKER = re.compile(
    r"^[ \t-]*(original message|below this line is a copy|this is a copy of the message|"
    r"the original message|message headers follow|the header of the original message|"
    r"--- ?Below this line|original-recipient of the message|-----Original)", re.I | re.M)
ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<!\d)([45])(\d\d)(?![\d.])[ :-]")
QUOTED_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.I | re.M)
TEMPORARY = re.compile(
    r"temporar|not yet been delivered|has been delayed|delivery delayed|will (retry|continue|"
    r"keep) |still trying|not a permanent error|is delayed|deferred|mailbox (is )?full|"
    r"over quota|try again later|warning: message", re.I)
PERMANENT = re.compile(
    r"permanent|does not exist|doesn'?t exist|no such (user|mailbox|address)|user unknown|"
    r"unknown user|unknown recipient|recipient unknown|address rejected|invalid (recipient|"
    r"address|mailbox)|could not be delivered|couldn'?t be delivered|wasn'?t able to deliver|"
    r"unable to deliver|could not be reached|mailbox unavailable|account (is )?disabled|"
    r"not found|gave up|given up|failed", re.I)


def looks_like_bounce(message):
    sender = parse.address(message, "From")
    return_path = parse.header(message, "Return-Path").strip()
    return (bool(DAEMON_SENDER.match(sender)) or return_path == "<>"
            or bool(BOUNCE_SUBJECT.search(parse.header(message, "Subject"))))


def _status(text):
    match = ENHANCED_STATUS.search(text)
    if match:
        return ".".join(match.groups())
    code = SMTP_CODE.search(text)
    if code:
        return f"{code.group(1)}.0.0"
    if TEMPORARY.search(text):
        return "4.0.0"
    if PERMANENT.search(text):
        return "5.0.0"
    return ""


def _diagnostic(text, email):
    """The lines from the address's last mention on, which carry the server's reply."""
    start = text.rfind("\n", 0, text.rfind(email)) + 1
    lines = [line.strip() for line in text[start:].splitlines()[:6] if line.strip()]
    return " ".join(lines)[:1000]


def detect(message, own_addresses=()):
    """A Report of the failed recipients of a plain-text bounce, or None."""
    if not looks_like_bounce(message):
        return None
    body = parse.text(message)
    marker = ORIGINAL_MARKER.search(body)
    notice = body[: marker.start()] if marker else body
    ignored = {a.lower() for a in own_addresses} | {parse.address(message, "From").lower()}
    emails = [address for address in dict.fromkeys(parse.ADDRESS.findall(notice))
              if address.lower() not in ignored and not DAEMON_SENDER.match(address)]
    if not emails:
        return None
    temporary = bool(TEMPORARY.search(notice))
    failures = []
    for email in emails:
        diagnostic = _diagnostic(notice, email)
        status = _status(diagnostic) or _status(notice)
        if not status:
            continue
        if temporary and status.startswith("5") and not ENHANCED_STATUS.search(diagnostic):
            status = "4" + status[1:]
        failures.append(Failure(email=email, status=status, diagnostic=diagnostic))
    if not failures:
        return None
    ids = original_ids(message) + (QUOTED_MESSAGE_ID.findall(body[marker.start():]) if marker else [])
    return Report(failures=failures, original_ids=list(dict.fromkeys(ids)))
