"""Who is to blame for an SMTP reply: the recipient, the message, policy or the account.

Blaming the wrong party is expensive both ways. Taking a full mailbox for an account
quota stalls an account for ever; taking a policy refusal for an unknown user
suppresses an audience; taking a sending quota for a recipient problem burns a list.
So a reply is judged by the stage of the transaction it answers first (anything refused
before RCPT is about the session, so the account), then by its enhanced status code
(RFC 3463), and only then, for servers that send none, by its text.
"""

import re
from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    CONNECT = "connect"
    EHLO = "ehlo"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command itself, before any content was sent
    END = "end"  # the reply to the final "."


class Blame(StrEnum):
    SENT = "sent"
    RECIPIENT_GONE = "recipient_gone"  # the mailbox does not exist: fail and suppress
    RECIPIENT_LATER = "recipient_later"  # full mailbox, greylisting: retry, then fail
    MESSAGE = "message"  # content or size refused: this row fails
    POLICY = "policy"  # spam/reputation/authentication policy: fails, counts to a streak
    ACCOUNT = "account"  # the account cannot send now: pause it, blame no recipient
    TEMPORARY = "temporary"  # any other temporary failure: retry with backoff
    PERMANENT = "permanent"  # any other permanent refusal of this recipient: fail
    UNKNOWN = "unknown"  # the data went out and no reply came: maybe delivered
    NEEDS_SMTPUTF8 = "needs_smtputf8"  # the address cannot be carried by this server


@dataclass(frozen=True)
class Verdict:
    """One judged reply. ``code`` is None when the connection was lost."""

    blame: Blame
    stage: Stage
    code: int | None
    reply: str

    @property
    def quota(self):
        """The account hit a provider's sending quota or rate limit."""
        return self.blame == Blame.ACCOUNT and bool(SENDING_QUOTA.search(self.reply))

    @property
    def dropped(self):
        """The connection was lost instead of an answer (counts for the breaker)."""
        return self.code is None


ENHANCED = re.compile(r"^\s*(?:\d{3}[ -])?([245])\.(\d{1,3})\.(\d{1,3})\b")

# A provider's sending quota or rate limit on the account: a longer pause than other
# account refusals (see accounts.failed).
SENDING_QUOTA = re.compile(r"sending (quota|limit)|rate limit|too many (messages|emails|recipients|"
                           r"connections)|daily (user )?sending|message submission rate|"
                           r"limit exceeded|exceeded .*sending|unusual rate|"
                           r"\b[45]\.4\.5\b|\b4\.7\.28\b", re.I)

# Text of servers that send no enhanced code (or send a generic one), in the order
# they are tried. Recipient mailbox problems come before account quotas, because
# providers say "over quota" of both and the recipient's is the common one.
TEXT_RULES = [
    (re.compile(r"mailbox (is )?full|mailbox quota|over ?quota|insufficient (system )?storage|"
                r"exceeded (its|the) storage|mailbox size limit", re.I), Blame.RECIPIENT_LATER),
    (re.compile(r"grey ?list|gray ?list|try again later, greylisted", re.I), Blame.RECIPIENT_LATER),
    (SENDING_QUOTA, Blame.ACCOUNT),
    (re.compile(r"authentication (required|failed|credentials)|relay (access )?denied|"
                r"not permitted to relay|relaying denied|sender address rejected|"
                r"send ?as ?(denied|permission)|not owned by user|client was not authenticated",
                re.I), Blame.ACCOUNT),
    (re.compile(r"user unknown|unknown user|no such (user|mailbox|recipient)|"
                r"mailbox (does not|doesn't) exist|recipient (not found|unknown)|"
                r"no mailbox|invalid recipient|address rejected: (undeliverable|user)|"
                r"account (has been )?disabled|mailbox unavailable: user|"
                r"(doesn't|does not) have an? [\w.-]+ account", re.I),
     Blame.RECIPIENT_GONE),
    (re.compile(r"spam|blocklist|blacklist|block ?list|reputation|policy|dmarc|spf|dkim|"
                r"unauthenticated", re.I), Blame.POLICY),
]

# Enhanced codes, by (class digit or "*", subject, detail or "*"), most specific first.
CODE_RULES = {
    ("5", "1", "1"): Blame.RECIPIENT_GONE,  # bad destination mailbox
    ("5", "1", "2"): Blame.RECIPIENT_GONE,  # bad destination system
    ("5", "1", "3"): Blame.RECIPIENT_GONE,  # bad destination mailbox syntax
    ("5", "1", "6"): Blame.RECIPIENT_GONE,  # mailbox moved, no forwarding
    ("5", "1", "10"): Blame.RECIPIENT_GONE,  # recipient address has null MX
    ("*", "1", "7"): Blame.ACCOUNT,  # bad sender's mailbox syntax
    ("*", "1", "8"): Blame.ACCOUNT,  # bad sender's system address
    ("5", "2", "1"): Blame.RECIPIENT_GONE,  # mailbox disabled
    ("*", "2", "2"): Blame.RECIPIENT_LATER,  # mailbox full
    ("4", "2", "*"): Blame.RECIPIENT_LATER,  # mailbox busy or over its rate
    ("*", "2", "3"): Blame.MESSAGE,  # message length exceeds administrative limit
    ("*", "3", "4"): Blame.MESSAGE,  # message too big for system
    ("5", "4", "1"): Blame.RECIPIENT_GONE,  # M365: recipient address rejected (no such user)
    ("5", "4", "4"): Blame.RECIPIENT_GONE,  # unable to route: the domain takes no mail
    ("*", "4", "5"): Blame.ACCOUNT,  # system congestion; providers' sending quotas
    ("*", "6", "*"): Blame.MESSAGE,  # media / content errors
    ("*", "7", "0"): None,  # generic security: decided by the text
    ("*", "7", "1"): None,  # "delivery not authorized": spam policy or relay denied
    ("*", "7", "3"): Blame.ACCOUNT,  # security conversion / auth mechanism
    ("*", "7", "8"): Blame.ACCOUNT,  # authentication credentials invalid
    ("*", "7", "28"): Blame.ACCOUNT,  # Gmail: unusual rate of mail from this account
    ("*", "7", "60"): Blame.ACCOUNT,  # M365: no permission to send as this sender
    ("*", "7", "*"): Blame.POLICY,  # other security and policy refusals
}


def classify(stage, code, reply):
    """The Verdict of ``reply`` (str or bytes) with ``code`` at ``stage``."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply or "")
    return Verdict(_blame(Stage(stage), code, text), Stage(stage), code, text)


def _blame(stage, code, text):
    if code is None:
        return Blame.UNKNOWN if stage == Stage.END else Blame.TEMPORARY
    if 200 <= code < 400:
        return Blame.SENT
    if code == 421 or stage in (Stage.CONNECT, Stage.EHLO, Stage.AUTH, Stage.MAIL):
        return Blame.ACCOUNT  # the session or the sender is refused, whoever the recipient
    blame = _by_enhanced_code(text) or _by_text(text)
    if blame is not None:
        if blame in (Blame.RECIPIENT_GONE, Blame.POLICY) and code < 500:
            return Blame.TEMPORARY  # a temporary reply never fails a row for good
        return blame
    return Blame.TEMPORARY if code < 500 else Blame.PERMANENT


def _by_enhanced_code(text):
    match = ENHANCED.match(text)
    if not match:
        return None
    klass, subject, detail = match.groups()
    for key in ((klass, subject, detail), ("*", subject, detail), (klass, subject, "*"),
                ("*", subject, "*")):
        if key in CODE_RULES:
            return CODE_RULES[key] or _by_text(text) or Blame.POLICY
    return None


def _by_text(text):
    for pattern, blame in TEXT_RULES:
        if pattern.search(text):
            return blame
    return None
