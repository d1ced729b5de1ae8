"""Merge fields: the only template language of subjects, contents and signatures.

Authors write merge fields like Django variables, ``{{ first_name }}`` or
``{{ company|default:"there" }}``, but messages are not Django templates. Running
authored text through the template engine would give every manager ``{% load %}``,
``{% include %}`` and attribute lookups on whatever sits in the context, and it would
be slow per recipient. So the syntax is parsed here, once, into literal text and
``Field`` objects; anything that is not a known merge field with allowed filters is a
``ValidationError`` that names the problem, shown on the admin form.
"""

import re
from dataclasses import dataclass
from functools import partial

import lxml.html
from django.core.exceptions import ValidationError
from django.template import defaultfilters
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from lxml.etree import ParserError

from .recipients import merge_field_names

UNSUBSCRIBE_FIELD = "unsubscribe_url"
_UNSUBSCRIBE_HREF = re.compile(r"\{\{\s*" + UNSUBSCRIBE_FIELD + r"\s*\}\}")


def _default(fallback, value):
    return value or fallback


# name -> (function, takes a quoted argument). Django's own functions, so the filters
# behave exactly as the authors know them from Django.
FILTERS = {
    "default": (_default, True),
    "upper": (defaultfilters.upper, False),
    "lower": (defaultfilters.lower, False),
    "title": (defaultfilters.title, False),
    "capfirst": (defaultfilters.capfirst, False),
}

# Anything that looks like Django template syntax. A merge field may hold "}}" inside a
# quoted filter argument; "{%" and "{#...#}" are found so they can be refused, and a
# "{{" or "{%" that is never closed is an error too (it would reach the recipient raw).
_SYNTAX = re.compile(
    r"""\{\{(?P<field>(?:"[^"]*"|'[^']*'|[^"'}]|\}(?!\}))*)\}\}"""
    r"|(?P<block>\{%.*?%\})|(?P<comment>\{\#.*?\#\})|(?P<unclosed>\{\{|\{%)",
    re.DOTALL,
)
_NAME = re.compile(r"\s*([^\s|]*)\s*")
_FILTER = re.compile(r"""\|\s*(\w+)(?::(?:"([^"]*)"|'([^']*)'|(\S*)))?\s*""")


@dataclass(frozen=True, eq=False)
class Field:
    """One merge field occurrence: ``source`` is its text exactly as written."""

    source: str
    name: str
    filters: tuple = ()

    def value(self, context):
        """The plain-text value for ``context`` (a dict of str); missing names are ""."""
        value = context.get(self.name) or ""
        if not isinstance(value, str):
            value = str(value)
        for apply in self.filters:
            value = apply(value)
        return value


class Layout:
    """A template cut at its fields: ``texts[0] + value + texts[1] + value + ...``.

    Filling it is one join over pre-built pieces, so the literal text (most of a 50 KB
    newsletter) is neither parsed nor copied piecewise per recipient. The pieces may be
    ``str`` or, once ``encoded``, ``bytes``.
    """

    __slots__ = ("texts", "slots")

    def __init__(self, texts, slots):
        self.texts = tuple(texts)
        self.slots = tuple(slots)  # the number in Template.fields of each gap's field

    def encoded(self, encoding):
        return Layout([text.encode(encoding) for text in self.texts], self.slots)

    def fill(self, values):
        """The text with ``values`` (one per Template field, same type as the texts)."""
        texts = self.texts
        pieces = [texts[0]]
        for slot, text in zip(self.slots, texts[1:], strict=True):
            pieces.append(values[slot])
            pieces.append(text)
        return texts[0][:0].join(pieces)


class Template:
    """Literal text and fields, compiled once and rendered for many recipients.

    Rendering fills a Layout: each distinct field (by its source text) is evaluated
    once per recipient, however often it occurs.
    """

    __slots__ = ("parts", "fields", "_layout")

    def __init__(self, parts):
        self.parts = tuple(parts)
        distinct = {}
        for part in self.parts:
            if isinstance(part, Field):
                distinct.setdefault(part.source, part)
        self.fields = list(distinct.values())
        self._layout = self.layout()

    def layout(self, literal=None, separator=""):
        """This template as a Layout: literal text is passed through ``literal`` (an
        encoder), and every two parts (literal or field) are joined with ``separator``."""
        numbers = {field.source: number for number, field in enumerate(self.fields)}
        texts, slots, text = [], [], ""
        for index, part in enumerate(self.parts):
            if index:
                text += separator
            if isinstance(part, Field):
                texts.append(text)
                slots.append(numbers[part.source])
                text = ""
            else:
                text += literal(part) if literal else part
        texts.append(text)
        return Layout(texts, slots)

    def values(self, context, convert=None):
        """The value of each of ``fields`` for ``context``; ``convert`` (for example HTML
        escaping) is applied to the values only, never to the literal text."""
        values = [field.value(context) for field in self.fields]
        return [convert(value) for value in values] if convert else values

    def render(self, context, convert=None):
        return self._layout.fill(self.values(context, convert))


def _shorten(text):
    return Truncator(text).chars(60)


def _parse_field(source, inner, names):
    """The Field of ``{{ inner }}``; raises ValidationError naming the problem."""
    tag = _shorten(source)
    match = _NAME.match(inner)
    name = match[1]
    if not name:
        raise ValidationError(_("Empty merge field %(tag)s."), code="syntax", params={"tag": tag})
    if name not in names:
        raise ValidationError(
            _("Unknown merge field “%(name)s” in %(tag)s. Available fields: %(names)s."),
            code="unknown_field",
            params={"name": _shorten(name), "tag": tag, "names": ", ".join(names)},
        )
    filters = []
    position = match.end()
    if name == UNSUBSCRIBE_FIELD and position < len(inner):
        # upper/lower would change the signed token and break every link.
        raise ValidationError(
            _("%(tag)s cannot take filters: the link must stay exactly as it is."),
            code="unsubscribe_filter", params={"tag": tag},
        )
    while position < len(inner):
        found = _FILTER.match(inner, position)
        if not found:
            raise ValidationError(
                _('Cannot read %(tag)s. Write merge fields like {{ first_name }} or '
                  '{{ company|default:"there" }}.'),
                code="syntax", params={"tag": tag},
            )
        filter_name, double, single, unquoted = found.groups()
        if filter_name not in FILTERS:
            raise ValidationError(
                _("Unknown filter “%(filter)s” in %(tag)s. Available filters: %(filters)s."),
                code="unknown_filter",
                params={"filter": filter_name, "tag": tag, "filters": ", ".join(FILTERS)},
            )
        function, takes_argument = FILTERS[filter_name]
        argument = double if double is not None else single
        if takes_argument and argument is None:
            raise ValidationError(
                _('The filter “%(filter)s” in %(tag)s needs a quoted text, for example '
                  '%(filter)s:"there".'),
                code="filter_argument", params={"filter": filter_name, "tag": tag},
            )
        if not takes_argument and (argument is not None or unquoted is not None):
            raise ValidationError(
                _("The filter “%(filter)s” in %(tag)s takes no argument."),
                code="filter_argument", params={"filter": filter_name, "tag": tag},
            )
        filters.append(partial(function, argument) if takes_argument else function)
        position = found.end()
    return Field(source=source, name=name, filters=tuple(filters))


def _scan(text, names):
    """Literal strings and Field objects of ``text``, and the problems found."""
    parts, errors, position = [], [], 0
    for match in _SYNTAX.finditer(text):
        parts.append(text[position:match.start()])
        position = match.end()
        source = match[0]
        if match["field"] is not None:
            try:
                parts.append(_parse_field(source, match["field"], names))
            except ValidationError as error:
                errors.append(error)
        elif match["block"]:
            errors.append(ValidationError(
                _("%(tag)s: template tags such as {%% load %%} or {%% if %%} are not allowed, "
                  "only merge fields like {{ first_name }}."),
                code="template_tag", params={"tag": _shorten(source)},
            ))
        elif match["comment"]:
            errors.append(ValidationError(
                _("%(tag)s: template comments are not allowed."),
                code="template_comment", params={"tag": _shorten(source)},
            ))
        else:
            errors.append(ValidationError(
                _("“%(start)s” near “%(context)s” is never closed. Write merge fields like "
                  "{{ first_name }}."),
                code="unclosed", params={"start": source, "context": _shorten(text[match.start():])},
            ))
    parts.append(text[position:])
    return [part for part in parts if part != ""], errors


def parse(text, names=None):
    """Split ``text`` into literal strings and Field objects.

    Raises one ValidationError listing every problem, so the author sees them all at
    once. ``names`` defaults to the merge fields that the configured sources declare.
    """
    parts, errors = _scan(text, merge_field_names() if names is None else names)
    if errors:
        raise ValidationError(errors)
    return parts


def compile_template(text, names=None):
    return Template(parse(text, names))


def has_unsubscribe_link(html_text):
    """Whether ``html_text`` has a link to ``{{ unsubscribe_url }}``: an ``<a>`` element,
    not in a comment, whose whole ``href`` is the field. The field in a comment, in
    plain text or in an image would leave the recipient no link to click."""
    if not html_text or not html_text.strip():
        return False
    try:
        document = lxml.html.document_fromstring(html_text)
    except ParserError:
        return False
    return any(_UNSUBSCRIBE_HREF.fullmatch((link.get("href") or "").strip())
               for link in document.iter("a"))


def _no_unsubscribe_link():
    return ValidationError(
        _("The message must contain a link to {{ unsubscribe_url }}, for example "
          '<a href="{{ unsubscribe_url }}">Unsubscribe</a>, in its content or its signature '
          "(not in an HTML comment), so that recipients can unsubscribe."),
        code="no_unsubscribe",
    )


def validate_template(text, *, require_unsubscribe=False):
    """Raise ValidationError unless ``text`` uses only known merge fields and filters
    (and, with ``require_unsubscribe``, links to ``{{ unsubscribe_url }}``)."""
    _parts, errors = _scan(text, merge_field_names())
    if require_unsubscribe and not has_unsubscribe_link(text):
        errors.append(_no_unsubscribe_link())
    if errors:
        raise ValidationError(errors)


def validate_message(message):
    """Validate subject, content and signature of ``message`` together, raising
    ``ValidationError({field: [...]})`` so a model form shows each error on its field.
    The unsubscribe link may be in the content or in the signature."""
    errors = {}
    signature = message.signature if message.signature_id else None
    checks = [("subject", message.subject), ("content", message.content)]
    if signature is not None:
        checks.append(("signature", signature.content))
    for field, text in checks:
        try:
            validate_template(text or "")
        except ValidationError as error:
            errors[field] = error.error_list
    html_text = (message.content or "") + (signature.content if signature is not None else "")
    if not has_unsubscribe_link(html_text):
        errors.setdefault("content", []).append(_no_unsubscribe_link())
    if errors:
        raise ValidationError(errors)
