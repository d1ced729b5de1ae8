"""The example project as `make run` starts it: seeded only when empty, demo managers
reach their own CRM records and massmail without any permission granted by hand, and
the page after unsubscribing is one the example project serves."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from example_project.crm.models import Contact
from example_project.demo import seed
from massmail.models import EmailAccount, MassmailSettings

pytestmark = pytest.mark.django_db


def test_run_seeds_only_an_empty_database():
    assert seed.seed_if_empty() is True
    settings = MassmailSettings.load()
    settings.emails_per_day = 42
    settings.save()
    EmailAccount.objects.update(smtp_port=2525)

    assert seed.seed_if_empty() is False

    assert MassmailSettings.load().emails_per_day == 42
    assert set(EmailAccount.objects.values_list("smtp_port", flat=True)) == {2525}


def test_demo_manager_reaches_only_own_records_without_granted_permissions(client):
    seed.seed_if_empty()
    anna = get_user_model().objects.get(username="anna")
    assert not anna.user_permissions.exists()  # all through the "Sales managers" group
    assert client.login(username="anna", password="anna")

    contacts = client.get(reverse("admin:crm_contact_changelist"), {"all": ""})

    assert contacts.status_code == 200
    assert {c.owner_id for c in contacts.context["cl"].result_list} == {anna.pk}
    assert contacts.context["cl"].result_count == Contact.objects.filter(owner=anna).count()
    for name in ("crm_company_changelist", "crm_lead_changelist", "massmail_message_changelist",
                 "massmail_mailing_changelist", "massmail_emailaccount_changelist"):
        assert client.get(reverse(f"admin:{name}")).status_code == 200, name


def test_unsubscribe_page_of_the_demo_is_served_by_the_example_project(client):
    seed.seed_if_empty()
    url = MassmailSettings.load().unsubscribe_url
    assert url.endswith("/unsubscribed/")
    page = client.get(reverse("demo-unsubscribed"))
    assert page.status_code == 200
    assert "You have been unsubscribed" in page.content.decode()
    assert MassmailSettings.load().company_name == "Demo Machines GmbH"
