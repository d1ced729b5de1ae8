"""Merge-field validation, two-phase rendering and the MIME bytes of every email."""

import datetime
import email
import email.policy
import functools
import html
import re
import socket
import threading

import lxml.html
import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from massmail import rendering
from massmail.merge_fields import compile_template
from massmail.models import Message
from massmail.recipients import merge_field_names

from .factories import (
    AttachmentFactory,
    MailingFactory,
    MessageFactory,
    SignatureFactory,
    UserFactory,
)

URL = "https://crm.example.com/massmail/unsubscribe/MTIz:1abc/?a=1&b=2"
HEADERS = {
    "Date", "From", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe",
    "List-Unsubscribe-Post", "MIME-Version", "Content-Type",
}
CONTENT = (
    "<html><head><style>p { color: #333; } a { color: #06c; }</style></head><body>"
    "<p>Hello {{ first_name }},</p><p>Our news.</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def build(prepared, context=None, **headers):
    arguments = {
        "from_email": "sales@sender.example", "to_email": "ann@example.org",
        "message_id": "<1@sender.example>", "list_id": '"News" <mailing-1.localhost>',
        "unsubscribe_url": URL,
    }
    arguments.update(headers)
    return prepared.build(context or {}, **arguments)


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def bodies(message):
    """(text, html) of a parsed email, with line breaks as "\\n"."""
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    return text.replace("\r\n", "\n"), html_part.replace("\r\n", "\n")


def error_codes(excinfo):
    return [error.code for error in excinfo.value.error_list]


def refused_fields(obj):
    """The fields that ``obj.full_clean()`` refuses (it must refuse some)."""
    with pytest.raises(ValidationError) as excinfo:
        obj.full_clean()
    return list(excinfo.value.message_dict)


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code", "named"), [
    ("Hi {{ nickname }}", "unknown_field", "nickname"),
    ("Hi {{ first_name.upper }}", "unknown_field", "first_name.upper"),
    ('Hi {{ "literal" }}', "unknown_field", '"literal"'),
    ("{% if first_name %}Hi{% endif %}", "template_tag", "{% if first_name %}"),
    ("{% load static %}{{ first_name }}", "template_tag", "{% load static %}"),
    ("Hi {# {% load static %} #}", "template_comment", "{# {% load static %} #}"),
    ("Hi {{ first_name|safe }}", "unknown_filter", "safe"),
    ("Hi {{ first_name|truncatechars:3 }}", "unknown_filter", "truncatechars"),
    ("Hi {{ company|default }}", "filter_argument", "default"),
    ("Hi {{ company|default:there }}", "filter_argument", "default"),
    ('Hi {{ company|upper:"x" }}', "filter_argument", "upper"),
    ("Hi {{ company|upper:x }}", "filter_argument", "upper"),
    ("Hi {{ }}", "syntax", "{{ }}"),
    ("Hi {{ first_name upper }}", "syntax", "{{ first_name upper }}"),
    ("Hi {{ first_name", "unclosed", "{{"),
    ("Hi {% first_name", "unclosed", "{%"),
])
def test_invalid_templates_name_the_problem(text, code, named):
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_template(text)
    assert set(error_codes(excinfo)) == {code}
    assert named in excinfo.value.messages[0]


def test_unknown_field_error_lists_the_available_fields():
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_template("{{ nickname }}")
    message = excinfo.value.messages[0]
    for name in merge_field_names():
        assert name in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_template("{{ nickname }} {% load static %} {{ company|safe }}")
    assert error_codes(excinfo) == ["unknown_field", "template_tag", "unknown_filter"]


@pytest.mark.parametrize("text", [
    "{{ first_name }}",
    "{{first_name}}",
    '{{ company|default:"there" }}',
    "{{ company | default:'a }} b' | upper }}",
    "{{ full_name|title|capfirst|lower }}",
    "no fields at all, {single} braces and } and @media{p{color:red}}",
])
def test_valid_templates(text):
    rendering.validate_template(text)


def test_content_must_contain_the_unsubscribe_url():
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_template("<p>Hi</p>", require_unsubscribe=True)
    assert error_codes(excinfo) == ["no_unsubscribe"]
    assert "{{ unsubscribe_url }}" in excinfo.value.messages[0]
    rendering.validate_template('<a href="{{ unsubscribe_url }}">x</a>', require_unsubscribe=True)
    rendering.validate_template('<a href=" {{unsubscribe_url}} ">x</a>', require_unsubscribe=True)


@pytest.mark.parametrize(("template", "context", "expected"), [
    ("{{ first_name }}!", {"first_name": "Ann"}, "Ann!"),
    ("{{ first_name }}!", {}, "!"),
    ('{{ company|default:"there" }}', {"company": ""}, "there"),
    ('{{ company|default:"there" }}', {"company": "ACME"}, "ACME"),
    ('{{ company|default:"there"|upper }}', {}, "THERE"),
    ("{{ company|lower }}", {"company": "ACME"}, "acme"),
    ("{{ full_name|title }}", {"full_name": "o'neil mcdonald"}, "O'Neil Mcdonald"),
    ("{{ full_name|capfirst }}", {"full_name": "ann smith"}, "Ann smith"),
])
def test_filters_behave_like_django(template, context, expected):
    assert compile_template(template).render(context) == expected


@pytest.mark.django_db
def test_validate_message_reports_each_field():
    signature = SignatureFactory(content="<p>{{ nickname }}</p>")
    message = MessageFactory.build(
        owner=signature.owner, subject="Hi {{ nickname }}", content="<p>{% load x %}</p>",
        signature=signature,
    )
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_message(message)
    errors = excinfo.value.message_dict
    assert set(errors) == {"subject", "content", "signature"}
    assert "nickname" in errors["subject"][0]
    assert "{% load x %}" in errors["content"][0]
    assert any("{{ unsubscribe_url }}" in error for error in errors["content"])
    assert "nickname" in errors["signature"][0]


@pytest.mark.django_db
def test_message_full_clean_refuses_a_content_without_unsubscribe_url():
    message = MessageFactory.build(owner=UserFactory(), content="<p>Hello {{ first_name }}</p>")
    assert refused_fields(message) == ["content"]
    MessageFactory.build(owner=message.owner).full_clean()


@pytest.mark.django_db
def test_message_form_shows_the_errors_on_its_fields():
    owner = UserFactory()
    form_class = modelform_factory(Message, fields=["subject", "content", "signature"])
    form = form_class(
        data={"subject": "Hi {{ nick }}", "content": "<p>x</p>"}, instance=Message(owner=owner),
    )
    assert not form.is_valid()
    assert set(form.errors) == {"subject", "content"}


@pytest.mark.django_db
def test_signature_full_clean_refuses_template_tags():
    signature = SignatureFactory.build(owner=UserFactory(), content="{% include 'x.html' %}")
    assert refused_fields(signature) == ["content"]


@pytest.mark.django_db
def test_prepare_refuses_an_invalid_message():
    message = MessageFactory(content="<p>{{ nickname }}</p>")
    with pytest.raises(ValidationError):
        rendering.prepare(message)


# --- rendering --------------------------------------------------------------------------


@pytest.mark.django_db
def test_values_are_escaped_in_html_and_plain_in_subject_and_text():
    prepared = rendering.prepare(MessageFactory(subject="News for {{ first_name }}"))
    value = '<b>Tom & "Jerry"</b>'
    rendered = prepared.render({"first_name": value})
    assert rendered.subject == f"News for {value}"
    assert f"Hello {value}," in rendered.text
    assert "Hello &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;," in rendered.html
    assert value not in rendered.html
    text, html_part = bodies(parse(build(prepared, {"first_name": value})))
    rendered = prepared.render({"first_name": value, "unsubscribe_url": URL})
    assert text == rendered.text
    assert html_part == rendered.html


@pytest.mark.django_db
def test_merge_values_cannot_inject_headers():
    prepared = rendering.prepare(MessageFactory(subject="News for {{ first_name }}"))
    value = "Ann\r\nBcc: evil@example.com\r\n\r\n<p>spoof</p>"
    message = parse(build(prepared, {"first_name": value}))
    assert set(message.keys()) == HEADERS
    assert message["Subject"] == "News for Ann Bcc: evil@example.com <p>spoof</p>"
    assert prepared.render({"first_name": value}).subject == message["Subject"]


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["from_email", "to_email", "message_id", "list_id",
                                    "unsubscribe_url"])
@pytest.mark.parametrize("bad", ["\r\nBcc: evil@example.com", "\nX: y", "\rX: y"])
def test_header_values_with_line_breaks_are_refused(header, bad):
    prepared = rendering.prepare(MessageFactory())
    value = {"from_email": "sales@sender.example", "to_email": "ann@example.org",
             "message_id": "<1@sender.example>", "list_id": "<mailing-1.localhost>",
             "unsubscribe_url": URL}[header]
    with pytest.raises(ValueError):
        build(prepared, **{header: value + bad})


@pytest.mark.django_db
@pytest.mark.parametrize(("header", "bad"), [
    ("from_email", "sales"),  # no "@"
    ("from_email", "sales@sender.example\x00"),
    ("to_email", "ann@example.org\tx"),
    ("message_id", "<ü@sender.example>"),
    ("list_id", '"Neuigkeiten für Sie" <mailing-1.localhost>'),
    ("unsubscribe_url", "https://crm.example.com/abmelden/ü/"),
])
def test_header_values_that_cannot_be_written_are_refused(header, bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        build(rendering.prepare(MessageFactory()), **{header: bad})


@pytest.mark.django_db
def test_a_non_ascii_local_part_is_written_in_utf8_for_smtputf8():
    data = build(rendering.prepare(MessageFactory()), to_email="jörg@exämple.org")
    assert "To: jörg@xn--exmple-cua.org\r\n".encode() in data


@pytest.mark.django_db
def test_headers_of_a_built_email():
    prepared = rendering.prepare(MessageFactory(subject="Grüße, {{ first_name }}"))
    date = datetime.datetime(2025, 3, 4, 10, 30, tzinfo=datetime.UTC)
    message = parse(build(
        prepared, {"first_name": "Jörg"}, to_email="joerg@exämple.org", date=date,
        message_id="<abc@sender.example>",
    ))
    assert set(message.keys()) == HEADERS
    assert message["Subject"] == "Grüße, Jörg"
    assert message["From"] == "sales@sender.example"
    assert message["To"] == "joerg@xn--exmple-cua.org"  # IDNA domain, ASCII local part
    assert message["Date"].datetime == date
    assert message["Message-ID"] == "<abc@sender.example>"
    assert message["List-Unsubscribe"] == f"<{URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.django_db
def test_unsubscribe_url_merge_field_is_the_header_url():
    prepared = rendering.prepare(MessageFactory())
    message = parse(build(prepared, {"unsubscribe_url": "https://other.example/"}))
    text, html_part = bodies(message)
    assert f"Unsubscribe ({URL})" in text
    assert f'href="{html.escape(URL)}"' in html_part


@pytest.mark.django_db
def test_long_subjects_are_folded_and_survive():
    prepared = rendering.prepare(MessageFactory(subject="{{ first_name }}"))
    for value in ["word " * 60, "x" * 3000, "ü" * 500, "=?utf-8?q?not_encoded?= " * 5]:
        data = build(prepared, {"first_name": value})
        head = data.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 998
        assert parse(data)["Subject"] == " ".join(value.split())


@pytest.mark.django_db
def test_merge_fields_survive_premailer_exactly():
    content = (
        "<html><head><style>p { color: #333; } a { color: #06c; } img { border: 0; }"
        "</style></head><body>"
        '<p style="background-image: url({{ company }})">Hi {{ first_name|default:"you" }}</p>'
        '<p><img src="logo.png" alt="{{ company }}"></p>'
        '<p><a href="{{ unsubscribe_url }}" title="{{ full_name }}">Unsubscribe</a></p>'
        "</body></html>"
    )
    prepared = rendering.prepare(MessageFactory(content=content))
    source = "".join(p if isinstance(p, str) else p.source for p in prepared.html.parts)
    assert 'href="{{ unsubscribe_url }}"' in source
    assert 'title="{{ full_name }}"' in source
    assert 'alt="{{ company }}"' in source
    assert re.search(r'<p style="[^"]*color:#333[^"]*url\(\{\{ company \}\}\)', source)
    assert 'Hi {{ first_name|default:"you" }}' in source
    company = "https://cdn.example/a b.png?x=1&y=2"
    html_part = bodies(parse(build(prepared, {"company": company, "full_name": 'A "B"'})))[1]
    tree = lxml.html.document_fromstring(html_part)
    assert tree.xpath("//a")[0].get("href") == URL
    assert tree.xpath("//a")[0].get("title") == 'A "B"'
    assert tree.xpath("//img")[0].get("alt") == company
    assert f"url({company})" in tree.xpath("//p")[0].get("style")
    assert "Hi you" in html_part


@pytest.fixture
def css_server():
    """A local HTTP server that serves CSS and records every request it gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    requests = []

    def serve():
        while True:
            try:
                connection, _address = server.accept()
            except OSError:
                return
            with connection:
                requests.append(connection.recv(4096))
                connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/css\r\n\r\np{color:red}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", requests
    server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
    server.close()
    thread.join(timeout=5)


@pytest.mark.django_db
def test_remote_stylesheets_are_never_fetched(css_server):
    base, requests = css_server
    content = (
        f'<html><head><link rel="stylesheet" href="{base}/link.css">'
        '<link rel=stylesheet href="http://127.0.0.1:1/x.css">'
        f"<style>@import url({base}/import.css); p {{ color: blue; }}</style></head>"
        '<body><p>Hi <a href="{{ unsubscribe_url }}">unsubscribe</a></p></body></html>'
    )
    prepared = rendering.prepare(MessageFactory(content=content))
    assert requests == []
    assert '<p style="color:blue">' in prepared.render({}).html


@pytest.mark.django_db
def test_signature_is_appended_inside_the_body():
    signature = SignatureFactory(content="<p>Best regards,<br>{{ first_name }}'s team</p>")
    message = MessageFactory(owner=signature.owner, signature=signature)
    rendered = rendering.prepare(message).render({"first_name": "Sam"})
    assert re.search(r"Unsubscribe</a></p><div><p[^>]*>Best regards,<br>Sam's team</p></div>"
                     r"</body></html>", rendered.html)
    assert rendered.text.endswith("Best regards,\nSam's team\n")


@pytest.mark.django_db
def test_text_part_is_derived_with_links():
    content = (
        "<html><head><title>Not in text</title><style>p { color: red; }</style></head><body>"
        "<h1>Spring news</h1><!-- a comment -->"
        "<p>Dear {{ first_name }},<br>our <b>new</b>   catalogue is out: "
        '<a href="https://shop.example/?a=1&amp;b=2">see it</a>.</p>'
        "<ul><li>Tables</li><li>Chairs</li></ul><ol><li>Order</li><li>Enjoy</li></ol>"
        '<p><a href="https://shop.example/">https://shop.example/</a> '
        '<a href="mailto:sales@shop.example">sales@shop.example</a> <a href="#top">top</a></p>'
        '<p><img src="x.png" alt="Our logo"></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )
    rendered = rendering.prepare(MessageFactory(content=content)).render(
        {"first_name": "Ann", "unsubscribe_url": URL}
    )
    assert rendered.text == (
        "Spring news\n\n"
        "Dear Ann,\nour new catalogue is out: see it (https://shop.example/?a=1&b=2).\n\n"
        "- Tables\n- Chairs\n\n1. Order\n2. Enjoy\n\n"
        "https://shop.example/ sales@shop.example top\n\n"
        "Our logo\n\n"
        f"Unsubscribe ({URL})\n"
    )


@pytest.mark.django_db
def test_text_part_keeps_an_unsubscribe_url_it_cannot_show_as_a_link():
    content = ('<p>News</p><form method="post" action="{{ unsubscribe_url }}">'
               "<button>Unsubscribe</button></form>")
    # Validation now refuses such a message; the renderer still keeps the link.
    rendered = rendering.PreparedMessage("News", content).render({"unsubscribe_url": URL})
    assert rendered.text.endswith(f"Unsubscribe: {URL}\n")


@pytest.mark.django_db
def test_attachments(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = MessageFactory()
    AttachmentFactory(message=message, file__filename="preisliste-für-sie.pdf",
                      file__data=b"%PDF-1.4 \x00\xff")
    AttachmentFactory(message=message, file__filename="notes.txt", file__data=b"plain notes")
    parsed = parse(build(rendering.prepare(message), {"first_name": "Ann"}))
    assert parsed.get_content_type() == "multipart/mixed"
    parts = list(parsed.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    attachments = {part.get_filename(): part for part in parsed.iter_attachments()}
    assert set(attachments) == {"preisliste-für-sie.pdf", "notes.txt"}
    assert attachments["preisliste-für-sie.pdf"].get_content_type() == "application/pdf"
    assert attachments["preisliste-für-sie.pdf"].get_content() == b"%PDF-1.4 \x00\xff"
    assert attachments["notes.txt"].get_content().rstrip("\r\n") == "plain notes"
    assert "Hello Ann," in bodies(parsed)[0]


@pytest.mark.django_db
def test_mostly_non_ascii_content_is_sent_as_base64():
    content = ("<p>Здравствуйте, {{ first_name }}! " + "Новости нашей компании. " * 50 +
               '</p><p><a href="{{ unsubscribe_url }}">Отписаться</a></p>')
    prepared = rendering.prepare(MessageFactory(content=content))
    parsed = parse(build(prepared, {"first_name": "Анна\r\n<b>"}))
    for part in parsed.get_body(("plain",)), parsed.get_body(("html",)):
        assert part["Content-Transfer-Encoding"] == "base64"
    text, html_part = bodies(parsed)
    assert "Здравствуйте, Анна\n<b>!" in text
    assert "Здравствуйте, Анна\n&lt;b&gt;!" in html_part
    assert f"Отписаться ({URL})" in text


@pytest.mark.django_db
def test_premailer_runs_once_per_message_version(monkeypatch):
    calls = []

    def spy(html_text):
        calls.append(html_text)
        return real(html_text)

    real = rendering.inline_css
    monkeypatch.setattr(rendering, "inline_css", spy)
    message = MessageFactory()
    prepared = rendering.prepare(message)
    for n in range(20):
        build(rendering.prepare(message), {"first_name": f"Ann{n}"})
    assert rendering.prepare(Message.objects.get(pk=message.pk)) is prepared
    assert len(calls) == 1

    previous = message.updated_at
    message.save()  # a new version, even without a visible change
    assert message.updated_at != previous
    assert rendering.prepare(message) is not prepared
    assert len(calls) == 2

    message.content = message.content.replace("Our news.", "Fresh news.")
    message.save()
    assert "Fresh news." in rendering.prepare(message).render({}).html
    assert len(calls) == 3


@pytest.mark.django_db
def test_signature_and_attachment_changes_make_a_new_version(monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    signature = SignatureFactory(content="<p>Old signature</p>")
    message = MessageFactory(owner=signature.owner, signature=signature)
    rendering.prepare(message)
    signature.content = "<p>New signature</p>"
    signature.save()
    message = Message.objects.get(pk=message.pk)
    assert "New signature" in rendering.prepare(message).render({}).html
    AttachmentFactory(message=message)
    assert parse(build(rendering.prepare(message))).get_content_type() == "multipart/mixed"


# --- identifiers ------------------------------------------------------------------------


def test_make_message_id_is_unique_on_the_sender_domain():
    ids = {rendering.make_message_id("sales@Sender.Example") for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"<[0-9a-f]{32}@sender\.example>", value) for value in ids)
    assert rendering.make_message_id("a@bücher.example").endswith("@xn--bcher-kva.example>")
    with pytest.raises(ValueError):
        rendering.make_message_id("a@b.example\r\nBcc: x@y")


@pytest.mark.django_db
def test_list_id_is_stable_per_owner(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "https://CRM.example.com:8443/app/"}
    owner = UserFactory(first_name="Ann", last_name='Smith "AS"')
    first, second = MailingFactory(owner=owner), MailingFactory(owner=owner)
    value = rendering.list_id(first)
    assert value == f'"Mailings of Ann Smith \\"AS\\"" <mailing-{owner.pk}.crm.example.com>'
    assert rendering.list_id(second) == value
    assert rendering.list_id(MailingFactory()) != value


@pytest.mark.django_db
def test_list_id_with_a_non_ascii_name_and_an_ip_site_url(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "http://[::1]:8000"}
    owner = UserFactory(first_name="Jörg", last_name="Müller")
    value = rendering.list_id(MailingFactory(owner=owner))
    assert value.isascii()
    assert value.endswith(f" <mailing-{owner.pk}.localhost>")
    prepared = rendering.prepare(MessageFactory())
    assert parse(build(prepared, list_id=value))["List-Id"] == (
        f"Mailings of Jörg Müller <mailing-{owner.pk}.localhost>"
    )


# --- any merge value gives correct MIME ----------------------------------------------------

HYPOTHESIS_CONTENT = (
    "<html><head><style>p { color: #333; }</style></head><body>"
    "<p>Dear {{ first_name }} {{ last_name }},</p>"
    '<p title="{{ full_name }}">{{ company|default:"your company" }}</p>'
    "<pre>{{ postal_address }}</pre><p>{{ email }}</p>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


@functools.cache
def hypothesis_prepared():
    return rendering.PreparedMessage(
        '{{ first_name }} {{ company|default:"friend" }}: {{ last_name|upper }}',
        HYPOTHESIS_CONTENT, "<p>Regards, {{ full_name }}</p>", [("a.bin", b"attached")],
    )


def one_line(text):
    return re.sub(r"[\x00-\x20\x7f-\x9f\u2028\u2029]+", " ", text).strip(" ")


def lines(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


merge_values = st.one_of(
    st.text(),
    st.text(min_size=300, max_size=3000),
    st.text(alphabet="\r\n \t<>&\"'=?_.-:;,\\{}%#\x00\x0b\x0c\x85\u2028é€😀", max_size=60),
    st.sampled_from([
        "\r\nBcc: evil@example.com", "\nSubject: spoof", "\r\n\r\n<p>body</p>", "\r\n.\r\n",
        "=?utf-8?b?SGk=?=", '"quoted" <b>&amp;', " padded ", "x" * 5000, "{{ first_name }}",
        "{0} {1}", "--=_mm", "From nobody", "\u2028", "",
    ]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({
    name: merge_values for name in ("first_name", "last_name", "full_name", "company",
                                    "email", "postal_address")
}))
def test_any_merge_value_gives_correct_mime(values):
    prepared = hypothesis_prepared()
    data = build(prepared, values)

    assert b"\r" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998

    message = parse(data)
    assert sorted(message.keys()) == sorted(HEADERS)
    assert not message.defects and not message["Subject"].defects
    expected_subject = one_line(
        f"{values['first_name']} {values['company'] or 'friend'}: {values['last_name'].upper()}"
    )
    assert message["Subject"] == expected_subject
    assert message["To"] == "ann@example.org"

    leaves = [part for part in message.walk() if not part.is_multipart()]
    assert [part.get_content_type() for part in leaves] == [
        "text/plain", "text/html", "application/octet-stream"]
    assert all(not part.defects for part in message.walk())
    for part in leaves:  # quoted-printable and base64 lines are at most 76 long
        assert max(len(line) for line in part.get_payload().split("\r\n")) <= 76
    assert prepared.render(values).subject == expected_subject
    # A line break in a value is one line break on the wire, whatever its form.
    rendered = prepared.render({**{k: lines(v) for k, v in values.items()}, "unsubscribe_url": URL})
    text, html_part = bodies(message)
    assert text == rendered.text
    assert html_part == rendered.html
    assert leaves[2].get_content() == b"attached"

    for name in ("first_name", "last_name", "email", "postal_address"):
        assert lines(values[name]) in text
        assert lines(html.escape(values[name])) in html_part
    assert f'title="{lines(html.escape(values["full_name"]))}"' in html_part
    assert lines(html.escape(values["company"] or "your company")) in html_part
    assert f'<a href="{html.escape(URL)}">' in html_part


def test_unsubscribe_url_takes_no_filter():
    """A filter would change the signed token (|upper) and break every link."""
    with pytest.raises(ValidationError, match="cannot take filters"):
        rendering.validate_template('<a href="{{ unsubscribe_url|upper }}">x</a>')
    rendering.validate_template('<a href="{{ unsubscribe_url }}">x</a>')


# --- the unsubscribe link must be a real link --------------------------------------------


@pytest.mark.parametrize("content", [
    "<!-- {{ unsubscribe_url }} -->",
    '<!-- <a href="{{ unsubscribe_url }}">Unsubscribe</a> -->',
    "<p>Unsubscribe: {{ unsubscribe_url }}</p>",
    '<img src="{{ unsubscribe_url }}">',
    '<a href="https://example.com/?next={{ unsubscribe_url }}">Unsubscribe</a>',
    '<a title="{{ unsubscribe_url }}" href="#">Unsubscribe</a>',
])
def test_content_without_a_real_unsubscribe_link_is_refused(content):
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_template(content, require_unsubscribe=True)
    assert error_codes(excinfo) == ["no_unsubscribe"]


@pytest.mark.django_db
def test_the_link_may_be_in_the_signature_and_the_text_part_always_carries_it():
    signature = SignatureFactory(content='<p><a href="{{unsubscribe_url}}">Stop</a></p>')
    message = MessageFactory.build(owner=signature.owner, signature=signature,
                                   content="<p>Hello <!-- {{ unsubscribe_url }} --></p>")
    rendering.validate_message(message)

    message.signature = None
    with pytest.raises(ValidationError) as excinfo:
        rendering.validate_message(message)
    assert list(excinfo.value.message_dict) == ["content"]

    prepared = rendering.PreparedMessage("Hi", '<p><a href="{{ unsubscribe_url }}"><img src="x.png"></a></p>')
    rendered = prepared.render({"unsubscribe_url": "https://crm.example/u/1/"})
    assert "https://crm.example/u/1/" in rendered.text


# --- sender names ------------------------------------------------------------------------


@pytest.mark.parametrize(("from_name", "header"), [
    ("", "sales@sender.example"),
    ("Anna Smith", "Anna Smith <sales@sender.example>"),
    ('Anna "The Closer", Sales', '"Anna \\"The Closer\\", Sales" <sales@sender.example>'),
    ("Zoë Müller", "Zoë Müller <sales@sender.example>"),
])
def test_from_carries_the_sender_name_encoded(from_name, header):
    prepared = rendering.PreparedMessage("Hi", '<a href="{{ unsubscribe_url }}">x</a>')
    data = build(prepared, from_name=from_name)
    head = data.split(b"\r\n\r\n")[0]
    assert head.isascii()
    parsed = parse(data)
    assert str(parsed["From"]) == header
    assert parsed["From"].addresses[0].addr_spec == "sales@sender.example"


def test_sender_name_cannot_inject_headers():
    prepared = rendering.PreparedMessage("Hi", '<a href="{{ unsubscribe_url }}">x</a>')
    with pytest.raises(ValueError):
        build(prepared, from_name="Anna\r\nBcc: victim@example.org")
