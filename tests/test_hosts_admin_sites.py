"""massmail on a host's own admin site: the example's "CRM desk" at /desk/, where a
manager who has no access to the default admin does the whole job, and a host site
without massmail's admins, which fails clearly before anything is created."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from example_project.crm.admin import ContactAdmin
from example_project.crm.models import Contact
from example_project.desk import desk as desk_site
from massmail.models import Mailing

from .conftest import make_manager, update_massmail_settings
from .engine import send_all
from .factories import ContactFactory, MessageFactory
from .hosts_sites import bare

pytestmark = pytest.mark.django_db

LABEL = Mailing._meta.app_label


def desk(name, *args):
    return reverse(f"desk:{name}", args=args)


def on_desk(response):
    """The page's content, after checking that none of its links leads to /admin/."""
    assert response.status_code == 200
    content = response.content.decode()
    assert 'href="/admin/' not in content and 'action="/admin/' not in content
    return content


@pytest.fixture
def dora(settings, always_open, account_on):
    """A manager who is not staff: the desk admits her, the default admin does not."""
    settings.MASSMAIL = {**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": False}
    update_massmail_settings(unsubscribe_url="https://crm.example.com/unsubscribed/")
    dora = make_manager("dora", is_staff=False)
    account_on(dora)
    return dora


def test_a_manager_does_the_whole_job_on_the_desk(client, dora, smtp_server):
    contacts = ContactFactory.create_batch(3, owner=dora)
    message = MessageFactory(owner=dora)

    # No way into the default admin, not even through its login page.
    assert client.get(reverse("admin:index")).status_code == 302
    client.post(reverse("admin:login"), {"username": "dora", "password": "pw"})
    assert client.get(reverse("admin:index")).status_code == 302

    assert client.post(desk("login"), {"username": "dora", "password": "pw"}).status_code == 302
    index = client.get(desk("index")).content.decode()
    assert desk("crm_contact_changelist") in index
    assert desk(f"{LABEL}_mailing_changelist") in index
    on_desk(client.get(desk(f"{LABEL}_mailing_changelist")))

    create = desk("crm_contact_massmail_create_mailing")
    contact_list = on_desk(client.get(desk("crm_contact_changelist")))
    assert create in contact_list
    assert 'value="massmail_create_mailing"' in contact_list
    count_page = client.get(create)
    assert count_page.context["count"] == 3
    assert desk("index") in on_desk(count_page)

    created = client.post(create, {"message": message.pk, "name": "Desk news", "_create": "1"})
    mailing = Mailing.objects.get()
    assert created.url == desk(f"{LABEL}_mailing_change", mailing.pk)

    page = on_desk(client.get(created.url))
    assert desk(f"{LABEL}_mailing_progress") in page
    assert desk(f"{LABEL}_delivery_changelist") in page
    activated = client.post(created.url, {
        "name": mailing.name, "message": message.pk, "start_at_0": "", "start_at_1": "",
        "status": "active"})
    assert activated.url == desk(f"{LABEL}_mailing_changelist")
    mailing.refresh_from_db()
    assert mailing.status == Mailing.Status.ACTIVE

    send_all()
    assert sorted(smtp_server.handler.recipients()) == sorted(c.email for c in contacts)
    deliveries = client.get(desk(f"{LABEL}_delivery_changelist") + f"?mailing__id__exact={mailing.pk}")
    assert all(c.email in on_desk(deliveries) for c in contacts)
    progress = client.get(desk(f"{LABEL}_mailing_progress") + f"?ids={mailing.pk}").json()
    assert progress["mailings"][str(mailing.pk)]["percent"] == 100
    message_page = on_desk(client.get(desk(f"{LABEL}_message_change", message.pk)))
    assert desk(f"{LABEL}_message_send_test", message.pk) in message_page


@pytest.mark.urls("tests.hosts_sites")
def test_a_site_without_massmail_s_admins_fails_before_creating_anything(client, anna):
    ContactFactory(owner=anna)
    client.force_login(anna)
    create = reverse("bare:crm_contact_massmail_create_mailing")

    with pytest.raises(ImproperlyConfigured, match=r"massmail\.admin\.register\(site\)"):
        client.post(create, {"message": MessageFactory(owner=anna).pk, "_create": "1"})

    assert not Mailing.objects.exists()


def test_the_system_check_names_the_missing_registration():
    errors = ContactAdmin(Contact, bare).check()
    assert [error.id for error in errors] == [f"{LABEL}.E020"]
    assert "'bare'" in errors[0].msg
    assert ContactAdmin(Contact, desk_site).check() == []
