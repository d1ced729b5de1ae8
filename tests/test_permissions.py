"""The "Sales managers" group that migrate creates, and ownership on every URL of the
message, signature and account pages: another manager's object is answered like a
missing one and nothing happens to it."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from massmail.models import Message, Signature
from massmail.permissions import MANAGER_PERMISSIONS, MANAGERS_GROUP, sync_manager_permissions

from .conftest import make_manager
from .factories import (
    EmailAccountFactory,
    MessageFactory,
    SignatureFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CONTENT = '<p>Hello {{ first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
EXPECTED = {
    "view_message", "add_message", "change_message", "delete_message",
    "view_attachment", "add_attachment", "change_attachment", "delete_attachment",
    "view_signature", "add_signature", "change_signature", "delete_signature",
    "view_mailing", "add_mailing", "change_mailing", "delete_mailing",
    "view_delivery",
    "view_emailaccount",
}


def group():
    return Group.objects.get(name=MANAGERS_GROUP)


def codenames(group):
    return {(p.content_type.app_label, p.codename) for p in group.permissions.all()}


def url(model, view, *args):
    return reverse(f"admin:massmail_{model}_{view}", args=args)


# --- the group --------------------------------------------------------------------------


# What the example CRM grants the group after migrate (example_project/crm/permissions.py).
CRM_GRANTED = {("crm", f"{action}_{model}") for action in ("view", "change")
               for model in ("company", "contact", "lead", "reply")}


def test_migrate_created_the_group_with_exactly_the_manager_permissions():
    assert codenames(group()) == {("massmail", codename) for codename in EXPECTED} | CRM_GRANTED
    assert {f"{a}_{m}" for m, actions in MANAGER_PERMISSIONS.items() for a in actions} == EXPECTED


def test_migrate_restores_massmail_permissions_and_keeps_the_host_s():
    managers = group()
    host = Permission.objects.get(content_type__app_label="crm", codename="view_contact")
    managers.permissions.add(
        host, Permission.objects.get(content_type__app_label="massmail", codename="view_suppression"))
    managers.permissions.remove(Permission.objects.get(codename="change_message"))
    call_command("migrate", verbosity=0)
    assert codenames(group()) == {("massmail", c) for c in EXPECTED} | CRM_GRANTED


def test_a_deleted_group_comes_back():
    group().delete()
    sync_manager_permissions(apps.get_app_config("massmail"))
    assert {codename for _app, codename in codenames(group())} == EXPECTED


# --- a user whose only permissions come from the group ----------------------------------


def test_group_member_uses_the_massmail_admin(client):
    anna = make_manager("anna", crm=False)
    client.force_login(anna)
    index = client.get(reverse("admin:index")).content.decode()
    for model in ("message", "signature", "mailing", "delivery", "emailaccount"):
        assert url(model, "changelist") in index, model
        assert client.get(url(model, "changelist")).status_code == 200, model
    for model in ("suppression", "massmailsettings"):
        assert url(model, "changelist") not in index
        assert client.get(url(model, "changelist")).status_code == 403
    assert client.get(url("emailaccount", "add")).status_code == 403
    response = client.post(url("message", "add"), {
        "subject": "Hi", "content": CONTENT, "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0})
    assert response.status_code == 302
    message = Message.objects.get(owner=anna)
    assert client.get(url("message", "change", message.pk)).status_code == 200
    assert client.post(url("signature", "add"), {"name": "Mine", "content": "<p>A</p>"}
                       ).status_code == 302
    account = EmailAccountFactory(owner=anna)
    assert client.get(url("emailaccount", "change", account.pk)).status_code == 200


def test_staff_without_the_group_gets_nothing(client):
    client.force_login(UserFactory(username="stranger"))
    for model in ("message", "signature", "mailing", "delivery", "emailaccount"):
        assert client.get(url(model, "changelist")).status_code == 403, model


# --- ownership --------------------------------------------------------------------------


@pytest.fixture
def anna_s(anna):
    """Anna's objects, and Ben logged in as the second manager."""
    signature = SignatureFactory(owner=anna, name="Anna-signature-xyz")
    return {
        "message": MessageFactory(owner=anna, subject="Anna-message-xyz", content=CONTENT,
                                  signature=signature),
        "signature": signature,
        "emailaccount": EmailAccountFactory(owner=anna, name="Anna-account-xyz"),
    }


@pytest.fixture
def ben(ben, client):
    """Ben (conftest's), logged in."""
    client.force_login(ben)
    return ben


def name(obj):
    return obj.subject if isinstance(obj, Message) else obj.name


OBJECT_URLS = [
    ("message", "get", "change"), ("message", "get", "history"), ("message", "get", "delete"),
    ("message", "post", "delete"), ("message", "get", "preview"),
    ("message", "post", "send_test"), ("message", "post", "copy"),
    ("signature", "get", "change"), ("signature", "get", "history"),
    ("signature", "get", "delete"), ("signature", "post", "delete"),
    ("emailaccount", "get", "change"), ("emailaccount", "get", "history"),
    ("emailaccount", "get", "delete"), ("emailaccount", "post", "test_connection"),
]


@pytest.mark.parametrize(("model", "method", "view"), OBJECT_URLS)
def test_second_manager_is_refused_on_every_url(client, anna_s, ben, smtp_server, model, method,
                                                view):
    obj = anna_s[model]
    if model == "emailaccount":
        obj.smtp_host, obj.smtp_port = smtp_server.host, smtp_server.port
        obj.save()
    data = {"post": "yes"} if view == "delete" else {}
    response = getattr(client, method)(url(model, view, obj.pk), data)
    # Answered like a missing object: 404, 403 or the admin's redirect to the index.
    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert response.url == reverse("admin:index")
    # And neither the answer nor where it leads says a word about the object.
    page = getattr(client, method)(url(model, view, obj.pk), data, follow=True)
    assert name(obj) not in response.content.decode() + page.content.decode()
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert smtp_server.messages == [] and smtp_server.handler.connections == 0
    assert Message.objects.count() == 1  # no copy


def test_second_manager_cannot_change_by_post(client, anna_s, ben):
    message = anna_s["message"]
    client.post(url("message", "change", message.pk), {
        "subject": "Hijacked", "content": CONTENT, "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0})
    message.refresh_from_db()
    assert message.subject == "Anna-message-xyz"


def test_second_manager_cannot_pick_the_first_manager_s_signature(client, anna_s, ben):
    signature = anna_s["signature"]
    form = client.get(url("message", "add")).context["adminform"].form
    assert signature not in form.fields["signature"].queryset
    data = {"subject": "Ben's", "content": CONTENT, "signature": signature.pk,
            "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0}
    response = client.post(url("message", "add"), data)
    assert response.status_code == 200
    assert "signature" in response.context["adminform"].form.errors
    own = MessageFactory(owner=ben, content=CONTENT)
    response = client.post(url("message", "change", own.pk), data)
    assert "signature" in response.context["adminform"].form.errors
    own.refresh_from_db()
    assert own.signature is None
    assert not Message.objects.filter(signature=signature).exclude(owner=signature.owner).exists()


def test_second_manager_s_lists_hide_the_first_manager_s_objects(client, anna_s, ben):
    for model, obj in anna_s.items():
        html = client.get(url(model, "changelist")).content.decode()
        assert name(obj) not in html
    assert Signature.objects.filter(owner=ben).count() == 0
