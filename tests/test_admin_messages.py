"""The message and signature pages: sandboxed preview with the engine's renderer, "Send
test to me" through a real SMTP server, "Copy message", merge-field help, validation
errors on the form and one default signature per manager."""

import email.utils

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse

from massmail.models import MassmailSettings, Message, Signature
from massmail.recipients import merge_field_names

from .factories import (
    AttachmentFactory,
    ContactFactory,
    EmailAccountFactory,
    MessageFactory,
    SignatureFactory,
    SuperuserFactory,
)
from .smtp import free_port

pytestmark = pytest.mark.django_db

CONTENT = '<p>Hello {{ first_name }},</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'


@pytest.fixture
def anna(anna, client):
    """Anna (conftest's), logged in."""
    client.force_login(anna)
    return anna


def url(view, *args, model="message"):
    return reverse(f"admin:massmail_{model}_{view}", args=args)


def notes(response):
    """The admin messages the user got, as text."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def note(response):
    (text,) = notes(response)
    return text


# --- preview ----------------------------------------------------------------------------


def test_change_page_shows_the_preview_in_a_sandboxed_iframe(client, anna):
    message = MessageFactory(owner=anna, subject="News for {{ first_name }}", content=CONTENT)
    page = client.get(url("change", message.pk))
    assert page.status_code == 200
    html = page.content.decode()
    preview_url = url("preview", message.pk)
    assert f'<iframe sandbox src="{preview_url}"' in html
    assert "allow-scripts" not in html and "allow-same-origin" not in html
    assert "News for Ada" in html  # sample values: Anna has no contacts yet
    preview = client.get(preview_url)
    assert preview.status_code == 200
    assert preview["Content-Type"] == "text/html; charset=utf-8"
    csp = [directive.strip() for directive in preview["Content-Security-Policy"].split(";")]
    assert "sandbox" in csp  # no allow-scripts, no allow-same-origin
    assert "script-src 'none'" in csp
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    assert "<p>Hello Ada,</p>" in preview.content.decode()


def test_preview_uses_the_first_recipient_and_escapes_merge_values(client, anna, ben):
    ContactFactory(owner=ben, first_name="Not Anna's")
    ContactFactory(owner=anna, first_name='<script>alert("x")</script>', last_name="Smith",
                   email="evil@example.org")
    message = MessageFactory(owner=anna, subject="Hi {{ first_name }}", content=CONTENT)
    html = client.get(url("preview", message.pk)).content.decode()
    assert "Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;," in html
    assert "<script>" not in html
    assert "Not Anna" not in html
    page = client.get(url("change", message.pk)).content.decode()
    assert "Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page  # the subject
    assert '<script>alert("x")' not in page
    assert "will receive it" in page


def test_preview_shows_the_text_part_and_signature(client, anna):
    signature = SignatureFactory(owner=anna, content="<p>Regards, Anna</p>")
    message = MessageFactory(owner=anna, content=CONTENT, signature=signature)
    page = client.get(url("change", message.pk)).content.decode()
    text = page.split("<pre>")[1].split("</pre>")[0]
    assert "Hello Ada," in text
    assert "Regards, Anna" in text
    assert MassmailSettings.load().unsubscribe_url in text
    assert "Regards, Anna" in client.get(url("preview", message.pk)).content.decode()


def test_preview_of_a_message_that_no_longer_validates_says_why(client, anna):
    # Saved before a source stopped offering "job_title", for example.
    message = MessageFactory(owner=anna, content="<p>{{ job_title }}</p> {{ unsubscribe_url }}")
    page = client.get(url("change", message.pk))
    assert page.status_code == 200
    assert "Unknown merge field “job_title”" in page.content.decode()
    preview = client.get(url("preview", message.pk))
    assert "job_title" in preview.content.decode()
    assert "sandbox" in preview["Content-Security-Policy"]


def test_preview_when_an_attachment_file_is_gone_says_why(client, anna, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = MessageFactory(owner=anna, content=CONTENT)
    attachment = AttachmentFactory(message=message)
    attachment.file.storage.delete(attachment.file.name)

    page = client.get(url("change", message.pk))
    html_part = client.get(url("preview", message.pk))

    assert page.status_code == 200
    (error,) = page.context["preview"]["errors"]
    assert "price-list.txt" in error
    assert html_part.status_code == 200
    assert html_part["Content-Type"] == "text/plain; charset=utf-8"
    assert "price-list.txt" in html_part.content.decode()
    assert html_part["Content-Security-Policy"].startswith("sandbox")


# --- send test to me --------------------------------------------------------------------


def test_send_test_arrives_like_a_real_email(client, anna, smtp_server, account_on):
    ContactFactory(owner=anna, first_name="Zoë", email="zoe@example.org")
    account = account_on(anna, from_email="anna@sales.example", from_name="Anna Müller")
    message = MessageFactory(owner=anna, subject="News for {{ first_name }}", content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert response.status_code == 302
    assert response.url == url("change", message.pk)
    text = note(response)
    assert f"sent to {anna.email} through {account}" in text
    assert "250 2.0.0 Message accepted" in text
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [anna.email]
    assert received.mail_from == "anna@sales.example"
    sent = received.message
    assert sent["Subject"] == "[TEST] News for Zoë"
    assert sent["From"] == "Anna Müller <anna@sales.example>"
    assert sent["To"] == anna.email
    assert email.utils.parseaddr(sent["Message-ID"])[1].endswith("@sales.example")
    assert sent["Date"]
    unsubscribe = MassmailSettings.load().page_after_unsubscribing()
    assert sent["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"<mailing-{anna.pk}." in sent["List-Id"]  # the owner's list, as in real mailings
    assert sent.get_content_type() == "multipart/alternative"
    assert "Hello Zoë," in sent.get_body(("plain",)).get_content()
    assert unsubscribe in sent.get_body(("html",)).get_content()


def test_send_test_prefers_a_mailing_account_over_the_main_one(client, anna, smtp_server,
                                                               account_on):
    account_on(anna, main=True, from_email="anna@main.example")
    account_on(anna, from_email="anna@bulk.example")
    message = MessageFactory(owner=anna, content=CONTENT)
    client.post(url("send_test", message.pk))
    assert [m.mail_from for m in smtp_server.messages] == ["anna@bulk.example"]


def test_send_test_uses_the_main_account_when_it_is_the_only_one(client, anna, smtp_server,
                                                                account_on):
    account_on(anna, main=True, from_email="anna@main.example")
    message = MessageFactory(owner=anna, content=CONTENT)
    client.post(url("send_test", message.pk))
    assert [m.mail_from for m in smtp_server.messages] == ["anna@main.example"]


def test_send_test_without_any_account(client, anna):
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert "anna has no email account yet" in note(response)


def test_send_test_when_every_account_is_disabled(client, anna, smtp_server, account_on):
    account_on(anna, disabled_at="2026-01-01T00:00:00Z", disabled_reason="login refused")
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert "No email account of anna can send now" in note(response)
    assert smtp_server.messages == []


def test_send_test_without_an_email_address(client, anna, smtp_server, account_on):
    anna.email = ""
    anna.save()
    account_on(anna)
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert "Your user has no email address" in note(response)
    assert smtp_server.messages == []


def test_send_test_with_a_wrong_password(client, anna, smtp_server, account_on):
    smtp_server.authenticator.password = "x"
    account = account_on(anna, password="not-x")
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    text = note(response)
    assert f"could not be sent through {account}" in text
    assert "The server refused the login: 535" in text
    assert smtp_server.messages == []
    account.refresh_from_db()
    assert account.disabled_at is None  # a test reports; it does not change the account


def test_send_test_with_the_server_down(client, anna):
    port = free_port()
    EmailAccountFactory(owner=anna, smtp_host="127.0.0.1", smtp_port=port)
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert f"Cannot connect to 127.0.0.1:{port}" in note(response)


def test_send_test_with_a_recipient_refused(client, anna, smtp_server, account_on):
    smtp_server.handler.rcpt_replies[anna.email] = ["550 5.1.1 No such user"]
    account_on(anna)
    message = MessageFactory(owner=anna, content=CONTENT)
    response = client.post(url("send_test", message.pk))
    assert "did not accept the test email" in note(response)
    assert "550 5.1.1 No such user" in note(response)


def test_send_test_needs_a_post(client, anna, smtp_server, account_on):
    account_on(anna)
    message = MessageFactory(owner=anna, content=CONTENT)
    assert client.get(url("send_test", message.pk)).status_code == 405
    assert smtp_server.messages == []


def test_superuser_sends_a_manager_s_message_to_themselves(client, anna, smtp_server, account_on):
    root = SuperuserFactory(username="root")
    account_on(anna, from_email="anna@sales.example")
    message = MessageFactory(owner=anna, content=CONTENT)
    client.force_login(root)
    client.post(url("send_test", message.pk))
    (received,) = smtp_server.messages
    assert (received.mail_from, received.rcpt_tos) == ("anna@sales.example", [root.email])


# --- copy -------------------------------------------------------------------------------


def test_copy_button_creates_a_copy_owned_by_the_user(client, anna, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    signature = SignatureFactory(owner=anna)
    message = MessageFactory(owner=anna, subject="Spring offer", content=CONTENT,
                             signature=signature)
    AttachmentFactory(message=message)
    assert url("copy", message.pk) in client.get(url("change", message.pk)).content.decode()
    response = client.post(url("copy", message.pk))
    copy = Message.objects.exclude(pk=message.pk).get()
    assert response.url == url("change", copy.pk)
    assert (copy.owner, copy.subject, copy.content, copy.signature) == (
        anna, "Copy of Spring offer", CONTENT, signature)
    (attachment,) = copy.attachments.all()
    assert str(attachment) == "price-list.txt"
    assert attachment.file.name == f"massmail/attachments/{copy.pk}/price-list.txt"
    assert attachment.file.read() == b"prices"
    assert "Copy of Spring offer" in note(response)


def test_copy_action_copies_the_selected_messages(client, anna):
    first = MessageFactory(owner=anna, subject="One", content=CONTENT)
    MessageFactory(owner=anna, subject="Two", content=CONTENT)
    response = client.post(url("changelist"), {"action": "copy_selected",
                                               "_selected_action": [first.pk]})
    assert response.status_code == 302
    assert sorted(Message.objects.values_list("subject", flat=True)) == ["Copy of One", "One", "Two"]


def test_superuser_copy_is_theirs_without_the_manager_s_signature(client, anna):
    root = SuperuserFactory(username="root")
    own_default = SignatureFactory(owner=root, default=True)
    message = MessageFactory(owner=anna, content=CONTENT, signature=SignatureFactory(owner=anna))
    client.force_login(root)
    client.post(url("copy", message.pk))
    copy = Message.objects.get(subject__startswith="Copy of")
    assert (copy.owner, copy.signature) == (root, own_default)


# --- the form ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["message", "signature"])
def test_form_lists_the_merge_fields(client, anna, model):
    html = client.get(url("add", model=model)).content.decode()
    names = merge_field_names()
    assert {"first_name", "company", "unsubscribe_url", "email"} <= set(names)
    for name in names:
        assert f"<code>{{{{ {name} }}}}</code>" in html


def post_message(client, **fields):
    data = {"subject": "Hello", "content": CONTENT, "signature": "",
            "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0}
    data.update(fields)
    return client.post(url("add"), data)


def test_valid_message_is_saved_for_the_user(client, anna):
    response = post_message(client)
    assert response.status_code == 302
    assert Message.objects.get().owner == anna


def test_unknown_merge_field_is_an_error_on_the_form(client, anna):
    response = post_message(client, subject="Hi {{ nickname }}",
                            content="<p>{% load static %}</p>{{ unsubscribe_url }}")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Unknown merge field “nickname”" in errors["subject"][0]
    assert "template tags" in errors["content"][0]
    assert "Unknown merge field “nickname”" in response.content.decode()
    assert not Message.objects.exists()


def test_content_without_unsubscribe_link_is_an_error_on_the_form(client, anna):
    response = post_message(client, content="<p>Hello {{ first_name }}</p>")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "must contain a link to {{ unsubscribe_url }}" in errors["content"][0]
    assert "must contain a link to {{ unsubscribe_url }}" in response.content.decode()


def test_signature_with_unknown_field_is_an_error_on_its_form(client, anna):
    response = client.post(url("add", model="signature"),
                           {"name": "Mine", "content": "<p>{{ mobile }}</p>"})
    assert response.status_code == 200
    assert "Unknown merge field “mobile”" in response.context["adminform"].form.errors["content"][0]


def test_superuser_cannot_give_a_message_another_owner_s_signature(client, anna):
    root = SuperuserFactory(username="root")
    client.force_login(root)
    response = post_message(client, owner=anna.pk, signature=SignatureFactory(owner=root).pk)
    assert response.status_code == 200
    assert "belongs to another user" in response.context["adminform"].form.errors["signature"][0]


# --- default signature ------------------------------------------------------------------


def test_marking_a_signature_default_unsets_the_previous_one(client, anna, ben):
    old = SignatureFactory(owner=anna, default=True, name="Old")
    others = SignatureFactory(owner=ben, default=True)
    response = client.post(url("add", model="signature"),
                           {"name": "New", "content": "<p>New</p>", "default": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    new = Signature.objects.get(name="New")
    assert Signature.objects.filter(owner=anna, default=True).get() == new
    old.refresh_from_db()
    others.refresh_from_db()
    assert (old.default, others.default) == (False, True)
    response = client.post(url("change", old.pk, model="signature"),
                           {"name": "Old", "content": "<p>Old</p>", "default": "on"})
    assert response.status_code == 302
    assert Signature.objects.filter(owner=anna, default=True).get() == old


def test_superuser_makes_a_manager_s_signature_default(client, anna):
    old = SignatureFactory(owner=anna, default=True)
    client.force_login(SuperuserFactory(username="root"))
    response = client.post(url("add", model="signature"), {
        "owner": anna.pk, "name": "New", "content": "<p>New</p>", "default": "on"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    old.refresh_from_db()
    assert not old.default
    assert Signature.objects.get(default=True).name == "New"


def test_new_message_starts_with_the_default_signature(client, anna, ben):
    SignatureFactory(owner=anna, name="Other")
    default = SignatureFactory(owner=anna, default=True, name="Default")
    SignatureFactory(owner=ben, default=True)
    form = client.get(url("add")).context["adminform"].form
    assert form.initial["signature"] == default.pk


def test_new_message_without_a_default_signature_has_none(client, anna):
    SignatureFactory(owner=anna)
    form = client.get(url("add")).context["adminform"].form
    assert form.initial.get("signature") is None


def test_message_preview_can_be_shown_as_another_recipient(client, anna, ben):
    ContactFactory(owner=anna, first_name="Ada")
    grace = ContactFactory(owner=anna, first_name="Grace")
    other = ContactFactory(owner=ben, first_name="Eve")
    message = MessageFactory(owner=anna, subject="Hi {{ first_name }}", content=CONTENT)
    key = f"{ContentType.objects.get_for_model(grace).pk}-{grace.pk}"

    page = client.get(url("change", message.pk))
    assert page.context["preview"]["subject"] == "Hi Ada"
    assert f'href="?preview_as={key}#massmail-preview"' in page.content.decode()

    chosen = client.get(url("change", message.pk), {"preview_as": key})
    assert chosen.context["preview"]["subject"] == "Hi Grace"
    html = client.get(chosen.context["preview"]["html_url"]).content.decode()
    assert "Hello Grace" in html
    # Another manager's record is never a choice: the first own recipient is shown.
    foreign = f"{ContentType.objects.get_for_model(other).pk}-{other.pk}"
    assert client.get(url("change", message.pk), {"preview_as": foreign}).context[
        "preview"]["subject"] == "Hi Ada"
