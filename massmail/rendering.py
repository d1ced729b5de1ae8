"""Turning a Message into the bytes of one email per recipient, cheaply.

Rendering has two phases, because a mailing sends one message version to many people:

1. ``prepare(message)``, once per message version (cached in-process): append the
   signature, inline the CSS with premailer with every network and file access off,
   derive the plain-text alternative, compile the merge fields, and build the fixed
   parts of the MIME structure (part headers, boundaries, base64 of the attachments).
2. ``PreparedMessage.build(context, ...)``, per recipient: substitute the merge values
   and write the headers around the prepared skeleton. No premailer, no HTML parsing,
   no MIME library: string joins and one C-level transfer encoding per body part.

premailer would percent-encode ``{{ unsubscribe_url }}`` inside ``href`` (and could
mangle merge fields elsewhere), so before inlining every merge field is replaced by an
inert alphanumeric placeholder, and the compiled templates are cut at the placeholders
afterwards: the fields survive exactly, wherever they were written.

The admin preview and "send test" use ``render``/``build`` of the same object, so what
a manager sees is what recipients get.
"""

import base64
import binascii
import datetime
import email.message
import email.policy
import email.quoprimime as quoprimime
import email.utils
import html
import logging
import mimetypes
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import cssutils
import lxml.html
from django.utils.translation import gettext
from premailer import Premailer

from .conf import conf
from .merge_fields import (
    UNSUBSCRIBE_FIELD,
    Template,
    compile_template,
    parse,
    validate_message,
    validate_template,
)
from .message_size import html_bytes, refuse_above_limit
from .tracking.links import LinkTracker, version_of
from .tracking.tokens import CLICK_TOKEN, DELIVERY_KEY

__all__ = [
    "PreparedMessage", "Rendered", "html_to_text", "inline_css", "list_id", "make_message_id",
    "prepare", "recipient_context", "validate_message", "validate_template",
]

# Prepared message versions kept per process. A worker sends few messages at a time, and
# a version holds its attachments base64-encoded, so the cache stays small.
CACHE_SIZE = 8

# Everything that would end or break a header line, including what Python's and other
# parsers treat as line breaks (\v, \f, \x1c-\x1e, \x85, U+2028, U+2029), and runs of
# spaces, which header folding could not reproduce exactly anyway.
_HEADER_BREAKS = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOMAIN = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One recipient's subject, text part and HTML part, before MIME encoding."""

    subject: str
    text: str
    html: str


class _OfflinePremailer(Premailer):
    """premailer that never fetches anything.

    ``allow_network=False`` only stops premailer from loading ``<link rel=stylesheet>``;
    cssutils, which premailer parses ``<style>`` with, would still download every
    ``@import url(...)``, from a worker, once per message. Its rules are dropped by
    premailer anyway, so the parser gets a fetcher that refuses.
    """

    def _parse_css_string(self, css_body, validate=True):
        parser = cssutils.CSSParser(fetcher=_refuse_fetch, validate=validate)
        return parser.parseString(css_body)


def _refuse_fetch(url):
    return None


def inline_css(html_text):
    """Move the CSS of ``<style>`` blocks into style attributes (what mail clients
    honour), keeping only rules that cannot be inlined (media queries, :hover)."""
    premailer = _OfflinePremailer(
        html_text,
        allow_network=False,
        allow_loading_external_files=False,
        disable_link_rewrites=True,
        cssutils_logging_level=logging.CRITICAL,  # authored CSS warnings are not ours to log
    )
    return premailer.transform(pretty_print=False)


# --- plain-text alternative -------------------------------------------------------------

_BLOCKS = frozenset(
    "address article aside blockquote center dd div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr li main nav ol p section table tbody td tfoot th thead "
    "tr ul".split()
)
_HIDDEN = frozenset({"head", "script", "style", "template", "title"})


class _TextWriter:
    """Collects paragraphs of text while walking an lxml tree."""

    def __init__(self):
        self.paragraphs = []  # (text, the list it is an item of, or None)
        self.line = []  # inline pieces of the current paragraph; "\n" stands for <br>
        self.prefix = ""  # list-item marker for the next paragraph
        self.list = None

    def flush(self):
        lines = (" ".join(line.split()) for line in "".join(self.line).split("\n"))
        text = "\n".join(lines).strip("\n")
        self.line = []
        if text:
            self.paragraphs.append((self.prefix + text, self.list))
            self.prefix, self.list = "", None

    def walk(self, element):
        tag = element.tag if isinstance(element.tag, str) else None  # None: comments, PIs
        if tag == "br":
            self.line.append("\n")
        elif tag == "pre":
            self.flush()
            self.paragraphs.append((element.text_content().strip("\n"), None))
        elif tag is not None and tag not in _HIDDEN:
            self.walk_element(element, tag)
        if element.tail:
            self.line.append(element.tail)

    def walk_element(self, element, tag):
        block = tag in _BLOCKS
        if block:
            self.flush()
        if tag == "li":
            self.list = element.getparent()
            if self.list is not None and self.list.tag == "ol":
                number = 1 + sum(1 for s in element.itersiblings(preceding=True) if s.tag == "li")
                self.prefix = f"{number}. "
            else:
                self.prefix = "- "
        elif tag == "img" and element.get("alt"):
            self.line.append(element.get("alt"))
        line, start = self.line, len(self.line)
        if element.text:
            self.line.append(element.text)
        for child in element:
            self.walk(child)
        if tag == "a":
            self.link(element, self.line[start:] if self.line is line else self.line)
        if block:
            self.flush()

    def link(self, element, label_pieces):
        """Keep the link target readable: "label (url)", or the bare url."""
        href = (element.get("href") or "").strip()
        label = " ".join("".join(label_pieces).split())
        if not href or href.startswith("#") or href in (label, f"mailto:{label}"):
            return
        self.line.append(f" ({href})" if label else f" {href}")


def html_to_text(html_text):
    """The plain-text alternative of an HTML document: paragraphs, list markers, line
    breaks, image alt texts and links as "label (url)"; head, styles and scripts left out."""
    writer = _TextWriter()
    writer.walk(lxml.html.document_fromstring(html_text))
    writer.flush()
    out, previous_list = [], None
    for text, in_list in writer.paragraphs:
        # Paragraphs are separated by a blank line, the items of one list are not.
        out.append(("\n" if in_list is not None and in_list is previous_list else "\n\n") + text)
        previous_list = in_list
    return "".join(out).lstrip("\n") + "\n"


# --- headers ------------------------------------------------------------------------------

def _one_line(text):
    return _HEADER_BREAKS.sub(" ", text).strip(" ")


def _encoded_words(text, separator):
    """RFC 2047 base64 encoded words, each whole UTF-8 characters and at most 75 long."""
    data = text.encode("utf-8", "replace")
    words, start = [], 0
    while start < len(data):
        end = min(start + 42, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never split a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return separator.join(words)


def _subject_header(subject):
    """``Subject: ...`` as one or more lines: plain ASCII folded at spaces, anything else
    (non-ASCII, a literal "=?", words too long to fold) as encoded words."""
    if subject.isascii() and "=?" not in subject:
        lines = ["Subject:"]
        for word in subject.split(" "):
            if len(lines[-1]) + 1 + len(word) > 78 and lines[-1] != "Subject:":
                lines.append("")
            lines[-1] += " " + word
        if max(len(line) for line in lines) <= 998:
            return "\r\n".join(lines)
    return "Subject: " + _encoded_words(subject, "\r\n ")


def _phrase(text):
    """A display phrase: a quoted string when ASCII, else encoded words."""
    text = _one_line(text)
    if text.isascii() and "=?" not in text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _encoded_words(text, " ")


def _refuse_control(name, value):
    if _CONTROL.search(value):
        raise ValueError(f"{name} must not contain line breaks or control characters: {value!r}")


def _check_header(name, value):
    _refuse_control(name, value)
    if not value.isascii():
        raise ValueError(f"{name} must be ASCII: {value!r}")


def _ascii_domain(domain):
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def _address(name, address):
    """A bare address for a header, with an internationalised domain in its ASCII form.
    A non-ASCII local part stays UTF-8 (RFC 6532); the transport sends such an email
    only with SMTPUTF8."""
    _refuse_control(name, address)
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError(f"{name} is not an address massmail can send to: {address!r}")
    return f"{local}@{_ascii_domain(domain)}"


def _mailbox(name, display_name, address):
    """``"Display Name" <address>``, or the bare address without a display name. The
    name is a quoted string, or encoded words when it is not ASCII."""
    address = _address(name, address)
    _refuse_control(name, display_name)
    return f"{_phrase(display_name)} <{address}>" if display_name.strip() else address


def recipient_context(values, *, email, unsubscribe_url, postal_address, delivery_id=None):
    """The merge context of one email: the record's merge values and the built-in fields.

    The engine, the mailing preview and the test send all build it here, so that what a
    manager previews is what a recipient gets. ``delivery_id`` (only the engine gives
    it) signs the tracked links of a message that tracks clicks; without it they lead
    to the right place and count nothing.
    """
    return {**values, "email": email, "unsubscribe_url": unsubscribe_url,
            "postal_address": postal_address, DELIVERY_KEY: delivery_id}


def make_message_id(from_email):
    """A new ``<unique@domain>`` Message-ID on the sending account's domain, as mail
    providers expect; generated before sending so the delivery row can store it."""
    domain = _address("From", from_email).rpartition("@")[2].lower()
    return f"<{uuid.uuid4().hex}@{domain}>"


def list_id(mailing):
    """The RFC 2919 List-Id of the mailing owner's mailings, e.g.
    ``"Mailings of Ann Smith" <mailing-7.crm.example.com>``.

    One list per owner, not per mailing: recipients (and their mail filters) see one
    sender's newsletters as one list, across campaigns. The namespace is the host of
    ``MASSMAIL["SITE_URL"]``, or "localhost" (RFC 2919's unmanaged namespace) when that
    host is not a domain name.
    """
    host = _ascii_domain(urlsplit(conf.SITE_URL).hostname or "").lower()
    if not _DOMAIN.fullmatch(host):
        host = "localhost"
    owner = mailing.owner
    name = (owner.get_full_name() if hasattr(owner, "get_full_name") else "") or owner.get_username()
    description = gettext("Mailings of %(name)s") % {"name": name}
    return f"{_phrase(description)} <mailing-{mailing.owner_id}.{host}>"


# --- the prepared message -------------------------------------------------------------------

def _crlf(text):
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _quoted_printable(text):
    """Quoted-printable of ``text`` as UTF-8, CRLF line breaks, lines of at most 75
    characters so that a soft break ("=") may follow the last one."""
    return quoprimime.body_encode(text.encode("utf-8", "replace").decode("latin-1"), 75, "\r\n")


class _Body:
    """One text/* part: its part headers and a per-recipient encoder.

    Quoted-printable keeps mostly-ASCII text readable and small, and spam filters do
    not like base64 text; base64 is smaller when most bytes are non-ASCII (Cyrillic,
    CJK...). The choice is made once, on the literal text. With quoted-printable the
    literal text is encoded once here and every value is encoded on its own, joined by
    soft line breaks, so per recipient only the merge values are encoded.
    """

    def __init__(self, subtype, template, convert=None):
        self.template = template
        self.convert = convert
        literal = "".join(part for part in template.parts if isinstance(part, str))
        size = len(literal.encode("utf-8"))
        self.quoted_printable = (size - len(literal.encode("ascii", "ignore"))) * 6 < size
        if self.quoted_printable:
            self.layout = template.layout(_quoted_printable, separator="=\r\n").encoded("ascii")
        else:
            self.layout = template.layout(_crlf)
        self.headers = (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                        "Content-Transfer-Encoding: "
                        f"{'quoted-printable' if self.quoted_printable else 'base64'}\r\n\r\n"
                        ).encode("ascii")

    def encode(self, context):
        values = self.template.values(context, self.convert)
        if self.quoted_printable:
            return self.layout.fill([_quoted_printable(value).encode("ascii") for value in values])
        data = self.layout.fill([_crlf(value) for value in values]).encode("utf-8", "replace")
        encoded = binascii.b2a_base64(data, newline=False)
        return b"\r\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)]) + b"\r\n"


def _with_signature(content, signature):
    """The signature in its own block, at the end of the body when there is one."""
    if not signature:
        return content
    block = f"<div>{signature}</div>"
    end = content.lower().rfind("</body>")
    return content[:end] + block + content[end:] if end >= 0 else content + block


class _Placeholders:
    """Inert stand-ins for merge fields while premailer and lxml rewrite the HTML.

    A placeholder is lower-case letters and digits with a random part, so HTML
    serialisation, URL quoting and CSS parsing leave it alone and authored text cannot
    contain it by chance. One placeholder per distinct field text.
    """

    def __init__(self):
        nonce = secrets.token_hex(8)
        self.format = f"mm{nonce}f{{}}z"
        self.pattern = re.compile(rf"mm{nonce}f(\d+)z")
        self.fields = []
        self.numbers = {}

    def placeholder(self, field):
        if field.source not in self.numbers:
            self.numbers[field.source] = len(self.fields)
            self.fields.append(field)
        return self.format.format(self.numbers[field.source])

    def protect(self, parts):
        return "".join(part if isinstance(part, str) else self.placeholder(part) for part in parts)

    def restore(self, text):
        """Compile ``text`` holding placeholders into a Template of the original fields."""
        parts, position = [], 0
        for match in self.pattern.finditer(text):
            parts += [text[position:match.start()], self.fields[int(match[1])]]
            position = match.end()
        parts.append(text[position:])
        return Template(part for part in parts if part != "")


def _attachment_part(filename, data):
    maintype, subtype = (mimetypes.guess_type(filename)[0] or "application/octet-stream").split("/")
    part = email.message.MIMEPart(policy=email.policy.SMTP)
    part.set_content(data, maintype, subtype, filename=filename)
    return part.as_bytes(policy=email.policy.SMTP)


class PreparedMessage:
    """Everything about one message version that does not depend on the recipient.

    ``subject``, ``text`` and ``html`` are compiled Templates; the rest is the MIME
    skeleton as bytes.
    """

    def __init__(self, subject, content, signature="", attachments=(), tracker=None):
        """``attachments``: (filename, bytes) pairs; ``tracker``: a
        ``tracking.links.LinkTracker`` when the message tracks clicks (its links are
        rewritten in the HTML part only). Raises ValidationError for bad merge fields
        (callers normally validated the message already)."""
        self.subject = compile_template(subject)
        placeholders = _Placeholders()
        inlined = inline_css(placeholders.protect(parse(_with_signature(content, signature))))
        text = html_to_text(inlined)
        html_part = inlined
        if tracker is not None:
            html_part = tracker.rewrite(inlined, placeholders.placeholder(CLICK_TOKEN),
                                        placeholders.pattern.search)
        self.html = placeholders.restore(html_part if html_part.endswith("\n") else html_part + "\n")
        links = [placeholders.placeholder(f) for f in placeholders.fields if f.name == UNSUBSCRIBE_FIELD]
        if links and not any(link in text for link in links):
            # The link was only where text cannot show it (an image, a style): keep it.
            text += f"\n{gettext('Unsubscribe')}: {links[0]}\n"
        self.text = placeholders.restore(text)
        self._build_skeleton(attachments)

    def _build_skeleton(self, attachments):
        boundary = f"=_mm{secrets.token_hex(8)}"  # "=_" never occurs in base64 or QP
        self._text = _Body("plain", self.text)
        self._html = _Body("html", self.html, html.escape)
        top = f'Content-Type: multipart/alternative; boundary="{boundary}a"\r\n\r\n'
        if attachments:
            top = (f'Content-Type: multipart/mixed; boundary="{boundary}m"\r\n\r\n'
                   f"--{boundary}m\r\n{top}")
        self._top = f"{top}--{boundary}a\r\n".encode("ascii") + self._text.headers
        self._middle = f"\r\n--{boundary}a\r\n".encode("ascii") + self._html.headers
        end = f"\r\n--{boundary}a--\r\n".encode("ascii")
        for filename, data in attachments:
            end += f"\r\n--{boundary}m\r\n".encode("ascii") + _attachment_part(filename, data)
        if attachments:
            end += f"\r\n--{boundary}m--\r\n".encode("ascii")
        self._end = end

    def render(self, context):
        """Subject (one line, plain), text part (plain) and HTML part (values escaped)."""
        return Rendered(
            subject=_one_line(self.subject.render(context)),
            text=self.text.render(context),
            html=self.html.render(context, html.escape),
        )

    def build(self, context, *, from_email, to_email, message_id, list_id, unsubscribe_url,
              date=None, from_name="", subject_prefix=""):
        """The complete RFC 5322 message for one recipient, CRLF line endings, ready for
        ``smtplib.SMTP.sendmail``. ``{{ unsubscribe_url }}`` is always ``unsubscribe_url``,
        the URL of the List-Unsubscribe header. ``from_name`` is the account's sender
        name, shown beside its address; ``subject_prefix`` marks test emails. Raises
        ValueError for header values with line breaks (header injection) or that cannot
        be written in ASCII."""
        for name, value in (("Message-ID", message_id), ("List-Id", list_id),
                            ("List-Unsubscribe", unsubscribe_url)):
            _check_header(name, value)
        context = {**context, UNSUBSCRIBE_FIELD: unsubscribe_url}
        subject = _one_line(subject_prefix + self.subject.render(context))
        date = date or datetime.datetime.now(datetime.UTC)
        head = (
            f"Date: {email.utils.format_datetime(date)}\r\n"
            f"From: {_mailbox('From', from_name, from_email)}\r\n"
            f"To: {_address('To', to_email)}\r\n"
            f"{_subject_header(subject)}\r\n"
            f"Message-ID: {message_id}\r\n"
            f"List-Id: {list_id}\r\n"
            f"List-Unsubscribe: <{unsubscribe_url}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "MIME-Version: 1.0\r\n"
        ).encode()
        return b"".join((head, self._top, self._text.encode(context),
                         self._middle, self._html.encode(context), self._end))


# --- the per-process cache -------------------------------------------------------------------

_cache = OrderedDict()
_cache_lock = threading.Lock()


def prepare(message):
    """The PreparedMessage of ``message``'s current version, built at most once per
    process and version. With click tracking on, that is also when the version's links
    are registered and rewritten (tracking/links.py).

    The key is the message (pk, updated_at, subject, content), its signature (pk,
    updated_at, content) and its attachments (pk, file name): an edit invalidates the
    entry even when it bypassed ``save()`` and ``updated_at``. Raises ValidationError
    when the message's merge fields are invalid.
    """
    signature = message.signature if message.signature_id else None
    attachments = list(message.attachments.all()) if message.pk else []
    tracked = bool(message.pk and message.track_clicks)
    key = (
        message.pk, message.updated_at, message.subject, message.content,
        signature and (signature.pk, signature.updated_at, signature.content),
        tuple((attachment.pk, attachment.file.name) for attachment in attachments),
        tracked and conf.SITE_URL,
    )
    with _cache_lock:
        prepared = _cache.get(key)
        if prepared is not None:
            _cache.move_to_end(key)
            return prepared
    validate_message(message)
    refuse_above_limit(html_bytes(message, signature)
                       + sum(attachment.file.size for attachment in attachments))
    prepared = PreparedMessage(
        message.subject, message.content, signature.content if signature else "",
        [(str(attachment), _read(attachment.file)) for attachment in attachments],
        tracker=LinkTracker(message, version_of(message, signature and signature.content))
        if tracked else None,
    )
    with _cache_lock:
        _cache[key] = prepared
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return prepared


def _read(field_file):
    with field_file.open("rb") as handle:
        return handle.read()
