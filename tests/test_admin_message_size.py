"""Message size: a warning where Gmail starts clipping, a refusal above
MASSMAIL["MAX_MESSAGE_BYTES"] (attachments included) on the form, wherever a message is
validated or prepared for sending and when its mailing is activated in the admin, and a
readable page for oversized admin posts."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from massmail import rendering
from massmail.models import Mailing, Message

from .factories import AttachmentFactory, EmailAccountFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

LINK = '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
ADD = reverse("admin:massmail_message_add")


@pytest.fixture
def small_limit(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "MAX_MESSAGE_BYTES": 5000}


def form(**fields):
    return {"subject": "Hello", "content": LINK, "signature": "",
            "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0, **fields}


def test_message_page_warns_where_gmail_clips(as_anna, anna):
    big = MessageFactory(owner=anna, content="<p>" + "word " * 21000 + "</p>" + LINK)
    small = MessageFactory(owner=anna)

    page = as_anna.get(reverse("admin:massmail_message_change", args=[big.pk]))
    warnings = [m.message for m in page.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1 and "Gmail shows only the first 100.0\xa0KB" in warnings[0]

    page = as_anna.get(reverse("admin:massmail_message_change", args=[small.pk]))
    assert not [m for m in page.context["messages"] if m.level_tag == "warning"]


def test_form_refuses_attachments_over_the_limit(as_anna, anna, small_limit, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("catalogue.pdf", b"%PDF" + b"x" * 6000)
    response = as_anna.post(ADD, form(**{
        "attachments-TOTAL_FORMS": 1, "attachments-0-file": upload}))

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert "at most 4.9\xa0KB can be sent" in errors[0]
    assert not Message.objects.exists()


def test_form_refuses_content_over_the_limit(as_anna, anna, small_limit):
    response = as_anna.post(ADD, form(content="<p>" + "x" * 6000 + "</p>" + LINK))
    assert response.status_code == 200
    assert "at most 4.9\xa0KB can be sent" in str(response.context["adminform"].form.errors)
    assert not Message.objects.exists()


def test_validation_and_sending_refuse_a_stored_message_over_the_limit(anna, small_limit, settings,
                                                                         tmp_path):
    settings.MEDIA_ROOT = tmp_path
    message = MessageFactory(owner=anna)
    AttachmentFactory(message=message, file__data=b"x" * 6000)
    for check in (message.full_clean, lambda: rendering.prepare(message)):
        with pytest.raises(ValidationError) as excinfo:
            check()
        assert "at most 4.9\xa0KB" in " ".join(excinfo.value.messages)


def test_oversized_admin_post_gets_a_readable_page(as_anna, anna, settings):
    settings.DEBUG = False
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = as_anna.post(ADD, form(content="<p>" + "x" * 20_000 + "</p>" + LINK),
                            HTTP_REFERER="http://testserver" + ADD)
    assert response.status_code == 413
    content = response.content.decode()
    assert "The form was too big to be accepted" in content
    assert "nothing was saved" in content
    assert f'href="http://testserver{ADD}"' in content
    assert not Message.objects.exists()


def test_a_mailing_of_a_message_over_the_limit_cannot_be_activated(as_anna, anna, small_limit,
                                                                     settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    EmailAccountFactory(owner=anna)
    message = MessageFactory(owner=anna)
    AttachmentFactory(message=message, file__data=b"x" * 6000)
    mailing = MailingFactory(owner=anna, message=message)

    response = as_anna.post(reverse("admin:massmail_mailing_change", args=[mailing.pk]), {
        "name": mailing.name, "message": message.pk, "start_at_0": "", "start_at_1": "",
        "status": "active"})

    assert response.status_code == 200
    assert "The message cannot be sent" in str(response.context["adminform"].form.errors["status"])
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.PAUSED
