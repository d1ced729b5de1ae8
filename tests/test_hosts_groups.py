"""MASSMAIL["MANAGER_GROUPS"]: the host's own managers groups get massmail's manager
permissions, massmail creates no group of its own, and `massmail_sync_permissions`
repairs the groups after the host loaded fixtures over them."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from massmail.models import Mailing
from massmail.permissions import MANAGERS_GROUP, manager_codenames

from .factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

LABEL = Mailing._meta.app_label


@pytest.fixture
def host_groups(settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "MANAGER_GROUPS": ["Vendeurs", "Chefs"]}
    Group.objects.filter(name=MANAGERS_GROUP).delete()
    host_permission = Permission.objects.get(content_type__app_label="crm", codename="view_contact")
    groups = [Group.objects.create(name=name) for name in ("Vendeurs", "Chefs")]
    for group in groups:
        group.permissions.add(host_permission)
    return groups


def massmail_codenames(group):
    return set(group.permissions.filter(content_type__app_label=LABEL).values_list("codename", flat=True))


def test_migrate_gives_the_host_s_groups_the_permissions_and_creates_none(host_groups):
    call_command("migrate", verbosity=0)

    assert not Group.objects.filter(name=MANAGERS_GROUP).exists()
    for group in host_groups:
        assert massmail_codenames(group) == manager_codenames()
        assert group.permissions.filter(content_type__app_label="crm").count() == 1


def test_the_command_repairs_groups_that_fixtures_replaced(host_groups, capsys):
    vendeurs = host_groups[0]
    vendeurs.permissions.set(Permission.objects.filter(codename="view_suppression"))  # a fixture

    call_command("massmail_sync_permissions")

    assert massmail_codenames(vendeurs) == manager_codenames()
    assert "Vendeurs:" in capsys.readouterr().out


def test_a_misspelt_group_is_reported_and_never_invented(host_groups, settings):
    settings.MASSMAIL = {**settings.MASSMAIL, "MANAGER_GROUPS": ["Vendeurs", "Vendeures"]}

    with pytest.raises(CommandError, match="Vendeures"):
        call_command("massmail_sync_permissions")

    assert not Group.objects.filter(name="Vendeures").exists()
    assert massmail_codenames(host_groups[0]) == manager_codenames()


def test_a_member_of_a_host_group_creates_mailings(client, host_groups):
    call_command("massmail_sync_permissions")
    vera = UserFactory(username="vera")
    vera.groups.add(host_groups[0])
    ContactFactory(owner=vera)
    client.force_login(vera)

    page = client.get(reverse("admin:crm_contact_changelist")).content.decode()

    assert reverse("admin:crm_contact_massmail_create_mailing") in page
