"""massmail installed under the label "newsletter" (see tests/settings_newsletter.py):
migrations, the managers' permissions, creating, sending and unsubscribing. Run only by
tests/test_hosts_label.py, in a pytest session of its own."""

from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core.checks import run_checks
from django.urls import reverse

from massmail.models import Mailing, MassmailSettings, Suppression
from massmail.naming import app_label
from massmail.permissions import MANAGERS_GROUP, manager_codenames

from ..conftest import make_manager, update_massmail_settings
from ..engine import send_all
from ..factories import ContactFactory, MessageFactory, SuperuserFactory

pytestmark = pytest.mark.django_db


def test_the_tables_and_permissions_carry_the_label():
    assert app_label() == Mailing._meta.app_label == "newsletter"
    assert Mailing._meta.db_table == "newsletter_mailing"
    group = Group.objects.get(name=MANAGERS_GROUP)
    # The example CRM adds its own view/change permissions to the group; ours carry the label.
    assert set(group.permissions.exclude(content_type__app_label="crm").values_list(
        "content_type__app_label", "codename")) == {
        ("newsletter", codename) for codename in manager_codenames()}
    assert make_manager("mia").has_perm("newsletter.add_mailing")


def test_checks_are_named_after_the_label(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "SITE_URL": "http://bücher.example"}
    assert "newsletter.E011" in [message.id for message in run_checks()]


def test_create_send_and_unsubscribe(client, always_open, account_on, smtp_server, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(unsubscribe_url="https://crm.example.com/unsubscribed/")
    mia = make_manager("mia")
    account_on(mia)
    contact = ContactFactory(owner=mia)
    message = MessageFactory(owner=mia)
    client.force_login(mia)

    create = reverse("admin:crm_contact_massmail_create_mailing")
    assert create in client.get(reverse("admin:crm_contact_changelist")).content.decode()
    created = client.post(create, {"message": message.pk, "_create": "1"})
    mailing = Mailing.objects.get()
    assert created.url == reverse("admin:newsletter_mailing_change", args=[mailing.pk])
    assert "Send test to me" in client.get(
        reverse("admin:newsletter_message_change", args=[message.pk])).content.decode()
    client.post(created.url, {"name": "", "message": message.pk, "start_at_0": "",
                              "start_at_1": "", "status": "active"})
    send_all()

    [received] = smtp_server.messages
    assert received.rcpt_tos == [contact.email]
    header = received.message["List-Unsubscribe"]
    path = urlsplit(header.strip("<>")).path
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Suppression.objects.filter(email=contact.email).exists()


def test_superusers_open_the_settings_page(client):
    client.force_login(SuperuserFactory())
    response = client.get(reverse("admin:newsletter_massmailsettings_changelist"))
    assert response.url == reverse("admin:newsletter_massmailsettings_change",
                                   args=[MassmailSettings.load().pk])
    assert client.get(response.url).status_code == 200
