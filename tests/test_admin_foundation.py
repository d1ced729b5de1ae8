"""The admin of massmail's own models: the superuser-only settings singleton, ownership
in every list and change page, and the write-only SMTP password."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from massmail.models import EmailAccount, MassmailSettings

from .conftest import with_every_permission
from .factories import (
    DeliveryFactory,
    EmailAccountFactory,
    MailingFactory,
    MessageFactory,
    SignatureFactory,
    SuperuserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "Stored-Pa55word-xyzzy"
OWNED_MODELS = ["emailaccount", "signature", "message", "mailing", "delivery"]


@pytest.fixture
def superuser():
    return SuperuserFactory(username="root")


def shown(obj):
    """The text that identifies ``obj`` in its admin list (the first column), as HTML."""
    return escape(obj.name if isinstance(obj, EmailAccount) else str(obj)).encode()


def url(model, view, *args):
    return reverse(f"admin:massmail_{model}_{view}", args=args)


def objects_of(owner):
    """One object of every owned massmail model, keyed by model name."""
    message = MessageFactory(owner=owner, subject=f"Message of {owner.username}")
    mailing = MailingFactory(owner=owner, message=message, name=f"Mailing of {owner.username}")
    return {
        "emailaccount": EmailAccountFactory(owner=owner, name=f"Account of {owner.username}",
                                            password=PASSWORD),
        "signature": SignatureFactory(owner=owner, name=f"Signature of {owner.username}"),
        "message": message,
        "mailing": mailing,
        "delivery": DeliveryFactory(mailing=mailing, email=f"to-{owner.username}@example.org"),
    }


# --- settings singleton ------------------------------------------------------------


def test_superuser_changelist_redirects_to_the_one_settings_page(client, superuser):
    client.force_login(superuser)
    response = client.get(url("massmailsettings", "changelist"))
    assert response.status_code == 302
    assert response.url == url("massmailsettings", "change", 1)
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"emails_per_day" in page.content
    assert MassmailSettings.objects.count() == 1


def test_superuser_saves_the_settings(client, superuser):
    client.force_login(superuser)
    obj = MassmailSettings.load()
    response = client.post(url("massmailsettings", "change", obj.pk), {
        "emails_per_day": 250,
        "use_business_time": "on",
        "business_time_start": "09:00:00",
        "business_time_end": "17:00:00",
        "business_days": ["0", "1", "2", "3", "4"],
        "time_zone": "Europe/Berlin",
        "unsubscribe_url": "https://crm.example.com/bye/",
        "postal_address": "1 Main Street",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    obj.refresh_from_db()
    assert (obj.emails_per_day, obj.business_days) == (250, [0, 1, 2, 3, 4])
    assert obj.unsubscribe_url == "https://crm.example.com/bye/"


def test_superuser_cannot_add_or_delete_settings(client, superuser):
    client.force_login(superuser)
    obj = MassmailSettings.load()
    page = client.get(url("massmailsettings", "change", obj.pk))
    assert url("massmailsettings", "delete", obj.pk).encode() not in page.content
    assert url("massmailsettings", "add").encode() not in page.content
    assert client.get(url("massmailsettings", "add")).status_code == 403
    assert client.get(url("massmailsettings", "delete", obj.pk)).status_code == 403
    assert client.post(url("massmailsettings", "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert MassmailSettings.objects.count() == 1


def test_manager_gets_403_on_settings(client, anna):
    # Even with every model permission: the settings are the superuser's.
    client.force_login(with_every_permission(anna))
    obj = MassmailSettings.load()
    assert client.get(url("massmailsettings", "changelist")).status_code == 403
    assert client.get(url("massmailsettings", "change", obj.pk)).status_code == 403
    assert client.post(url("massmailsettings", "change", obj.pk),
                       {"emails_per_day": 1}).status_code == 403
    assert client.get(url("massmailsettings", "add")).status_code == 403
    assert client.get(url("massmailsettings", "delete", obj.pk)).status_code == 403
    obj.refresh_from_db()
    assert obj.emails_per_day != 1


def test_settings_appear_on_the_index_only_for_superusers(client, superuser, anna):
    # Even with every model permission: the settings are the superuser's.
    client.force_login(with_every_permission(anna))
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert url("massmailsettings", "changelist").encode() not in index.content
    assert url("mailing", "changelist").encode() in index.content
    client.force_login(superuser)
    assert url("massmailsettings", "changelist").encode() in client.get(reverse("admin:index")).content


# --- ownership ---------------------------------------------------------------------


@pytest.mark.parametrize("model", OWNED_MODELS)
def test_manager_lists_only_their_own_objects(client, anna, ben, model):
    own, other = objects_of(anna)[model], objects_of(ben)[model]
    client.force_login(anna)
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [own]
    assert shown(own) in response.content
    assert shown(other) not in response.content


@pytest.mark.parametrize("model", OWNED_MODELS)
def test_superuser_lists_everyone_s_objects(client, superuser, anna, ben, model):
    own, other = objects_of(anna)[model], objects_of(ben)[model]
    client.force_login(superuser)
    response = client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {own, other}


@pytest.mark.parametrize("model", OWNED_MODELS)
def test_manager_cannot_open_another_manager_s_object(client, anna, ben, model):
    """Django answers a hidden object like a missing one: a redirect to the index with
    "doesn't exist", so the page never reveals that the object is there."""
    other = objects_of(ben)[model]
    # Even with every model permission: ownership alone keeps her out.
    client.force_login(with_every_permission(anna))
    for view in ("change", "history", "delete"):
        response = client.get(url(model, view, other.pk))
        assert response.status_code in (302, 403, 404), view
        if response.status_code == 302:
            assert response.url == reverse("admin:index")
        assert shown(other) not in response.content
    response = client.get(url(model, "change", other.pk), follow=True)
    assert shown(other) not in response.content


@pytest.mark.parametrize("model", ["signature", "message", "mailing"])
def test_manager_opens_their_own_object(client, anna, model):
    own = objects_of(anna)[model]
    client.force_login(anna)
    assert client.get(url(model, "change", own.pk)).status_code == 200


def test_manager_cannot_change_another_manager_s_signature_by_post(client, anna, ben):
    other = SignatureFactory(owner=ben, name="Ben's", content="<p>Ben</p>")
    client.force_login(anna)
    client.post(url("signature", "change", other.pk), {"name": "Hijacked", "content": "x"})
    other.refresh_from_db()
    assert other.name == "Ben's"


def test_manager_adds_a_signature_owned_by_themselves(client, anna, ben):
    client.force_login(anna)
    response = client.post(url("signature", "add"), {"name": "Mine", "content": "<p>A</p>",
                                                     "owner": ben.pk})
    assert response.status_code == 302
    assert anna.massmail_signatures.get().name == "Mine"
    assert not ben.massmail_signatures.exists()


def test_manager_picks_only_their_own_signature_for_a_message(client, anna, ben):
    SignatureFactory(owner=anna, name="Anna's signature")
    SignatureFactory(owner=ben, name="Ben's signature")
    client.force_login(anna)
    form = client.get(url("message", "add")).context["adminform"].form
    assert [s.name for s in form.fields["signature"].queryset] == ["Anna's signature"]


# --- accounts ----------------------------------------------------------------------


def account_post_data(account, **changes):
    data = {
        "owner": account.owner_id, "name": account.name, "from_email": account.from_email,
        "smtp_host": account.smtp_host, "smtp_port": account.smtp_port,
        "smtp_user": account.smtp_user, "password": "", "massmail": "on",
        "disabled_reason": "", "auth_method": account.auth_method,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_account_form_never_renders_the_stored_password(client, superuser, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD)
    client.force_login(superuser)
    page = client.get(url("emailaccount", "change", account.pk))
    assert page.status_code == 200
    assert b'name="password"' in page.content  # the field is there, for a new password
    assert PASSWORD.encode() not in page.content
    assert EmailAccount.objects.get(pk=account.pk).password == PASSWORD


def test_owner_viewing_their_account_never_sees_the_password(client, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD)
    client.force_login(anna)
    page = client.get(url("emailaccount", "change", account.pk))
    assert page.status_code == 200
    assert PASSWORD.encode() not in page.content
    assert client.get(url("emailaccount", "changelist")).status_code == 200


def test_blank_password_keeps_the_stored_one(client, superuser, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD, name="Old name")
    client.force_login(superuser)
    response = client.post(url("emailaccount", "change", account.pk),
                           account_post_data(account, name="New name"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = EmailAccount.objects.get(pk=account.pk)
    assert account.name == "New name"
    assert account.password == PASSWORD


def test_new_password_replaces_the_stored_one(client, superuser, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD)
    client.force_login(superuser)
    response = client.post(url("emailaccount", "change", account.pk),
                           account_post_data(account, password="brand-new"))
    assert response.status_code == 302
    assert EmailAccount.objects.get(pk=account.pk).password == "brand-new"


def test_account_form_refuses_starttls_with_implicit_tls(client, superuser, anna):
    account = EmailAccountFactory(owner=anna)
    client.force_login(superuser)
    response = client.post(url("emailaccount", "change", account.pk),
                           account_post_data(account, use_tls="on", use_ssl="on"))
    assert response.status_code == 200
    assert "not both" in str(response.context["adminform"].form.non_field_errors())


def test_superuser_adds_an_account_for_a_manager(client, superuser, anna):
    client.force_login(superuser)
    response = client.post(url("emailaccount", "add"), {
        "owner": anna.pk, "name": "Anna sales", "from_email": "anna@sales.example",
        "smtp_host": "smtp.example", "smtp_port": 587, "smtp_user": "anna",
        "password": "pw-1", "use_tls": "on", "massmail": "on", "auth_method": "password",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    account = EmailAccount.objects.get()
    assert (account.owner, account.password) == (anna, "pw-1")


def test_managers_cannot_add_or_change_accounts(client, anna):
    account = EmailAccountFactory(owner=anna, password=PASSWORD, name="Mine")
    # Even with every model permission: accounts are the superuser's to write.
    client.force_login(with_every_permission(anna))
    assert client.get(url("emailaccount", "add")).status_code == 403
    assert client.post(url("emailaccount", "add"), {
        "name": "Sneaky", "from_email": "x@x.example", "smtp_host": "h", "smtp_port": 25,
    }).status_code == 403
    assert not EmailAccount.objects.filter(name="Sneaky").exists()
    client.post(url("emailaccount", "change", account.pk),
                account_post_data(account, name="Renamed", password="hijacked"))
    account = EmailAccount.objects.get(pk=account.pk)
    assert (account.name, account.password) == ("Mine", PASSWORD)
    changelist = client.get(url("emailaccount", "changelist"))
    assert url("emailaccount", "add").encode() not in changelist.content
