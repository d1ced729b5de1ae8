"""The mixin follows the host admin's rules for actions: where the host gives a user no
actions, or its ``has_massmail_permission`` hook says no, massmail adds no action, no
button, and its page refuses."""

import pytest
from django.urls import reverse

from .factories import CompanyFactory, ContactFactory, LeadFactory, SuperuserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.hosts_sites")]

MASSMAIL_ACTIONS = ("massmail_create_mailing", "massmail_mark_vip", "massmail_unmark_vip")


def shown(client, model):
    page = client.get(reverse(f"rules:crm_{model}_changelist"))
    assert page.status_code == 200
    content = page.content.decode()
    return {
        "button": reverse(f"rules:crm_{model}_massmail_create_mailing") in content,
        "actions": [name for name in MASSMAIL_ACTIONS if f'value="{name}"' in content],
    }


@pytest.mark.parametrize("model", ["contact", "lead", "company"])
def test_no_massmail_actions_or_button_where_the_host_gives_none(as_anna, anna, model):
    for factory in (ContactFactory, LeadFactory, CompanyFactory):
        factory(owner=anna)

    assert shown(as_anna, model) == {"button": False, "actions": []}
    assert as_anna.get(reverse(f"rules:crm_{model}_massmail_create_mailing")).status_code == 403


def test_the_host_s_own_rule_still_gives_superusers_everything(client):
    ContactFactory()
    client.force_login(SuperuserFactory())
    assert shown(client, "contact") == {"button": True, "actions": list(MASSMAIL_ACTIONS)}


def test_the_hook_keeps_the_host_s_own_actions(client):
    LeadFactory()
    client.force_login(SuperuserFactory())
    page = client.get(reverse("rules:crm_lead_changelist")).content.decode()
    assert 'value="delete_selected"' in page
    assert shown(client, "lead") == {"button": False, "actions": []}


def test_managers_without_delete_rights_keep_massmail_s_actions(as_anna, anna):
    ContactFactory(owner=anna)
    # The default site: Django's own filter took "delete" away, the host gave no rule.
    page = as_anna.get(reverse("admin:crm_contact_changelist")).content.decode()
    assert 'value="delete_selected"' not in page
    assert all(f'value="{name}"' in page for name in MASSMAIL_ACTIONS)
