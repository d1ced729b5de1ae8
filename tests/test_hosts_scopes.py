"""Team scopes (MASSMAIL["OWNER_SCOPE"]): a team lead views the mailings, messages and
deliveries of their team, and can change, activate, resend or send none of them."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from massmail.models import Delivery, Mailing

from .conftest import make_manager
from .factories import ContactFactory, DeliveryFactory, MailingFactory, RecipientFactory

pytestmark = pytest.mark.django_db

LABEL = Mailing._meta.app_label
S = Delivery.Status


def team_of(user):
    """The host's scope: leads of "North" see its members."""
    if not user.groups.filter(name="North leads").exists():
        return get_user_model().objects.none()
    return get_user_model().objects.filter(groups__name="North")


def url(model, view, *args):
    return reverse(f"admin:{LABEL}_{model}_{view}", args=args)


@pytest.fixture
def team(settings, anna, ben):
    """Lea leads North (Anna's team); Ben is in no team of hers."""
    settings.MASSMAIL = {**settings.MASSMAIL, "OWNER_SCOPE": f"{__name__}.team_of",
                         "DISPATCH_ON_ACTIVATE": False}
    lea = make_manager("lea")
    lea.groups.add(Group.objects.create(name="North leads"))
    anna.groups.add(Group.objects.create(name="North"))
    return lea


def mailing_of(owner, *statuses):
    mailing = MailingFactory(owner=owner)
    for status in statuses:
        contact = ContactFactory(owner=owner)
        DeliveryFactory(mailing=mailing, recipient=RecipientFactory(record=contact),
                        email=contact.email, status=status)
    return mailing


def test_a_team_lead_views_the_team_s_work(client, team, anna, ben):
    annas, bens = mailing_of(anna, S.SENT), mailing_of(ben, S.SENT)
    client.force_login(team)

    listed = client.get(url("mailing", "changelist")).context["cl"].result_list
    assert list(listed) == [annas]
    page = client.get(url("mailing", "change", annas.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert client.get(url("message", "change", annas.message_id)).status_code == 200
    assert client.get(url("mailing", "change", bens.pk)).status_code == 302  # not found
    deliveries = client.get(url("delivery", "changelist") + f"?mailing__id__exact={annas.pk}")
    assert [d.mailing for d in deliveries.context["cl"].result_list] == [annas]
    progress = client.get(url("mailing", "progress") + f"?ids={annas.pk}")
    assert progress.status_code == 200


def test_a_team_lead_changes_activates_resends_and_sends_nothing(client, team, anna):
    mailing = mailing_of(anna, S.FAILED)
    name = mailing.name
    client.force_login(team)

    refused = client.post(url("mailing", "change", mailing.pk), {
        "name": "Mine now", "message": mailing.message_id, "start_at_0": "", "start_at_1": "",
        "status": "active"})
    assert refused.status_code == 403
    client.post(url("mailing", "changelist"),
                {"action": "resume_mailings", "_selected_action": [mailing.pk]})
    client.post(url("delivery", "changelist"),
                {"action": "resend_failed", "_selected_action": [d.pk for d in mailing.deliveries.all()]})
    assert client.post(url("message", "send_test", mailing.message_id)).status_code == 403
    assert client.post(url("message", "change", mailing.message_id), {}).status_code == 403

    mailing.refresh_from_db()
    assert (mailing.name, mailing.status) == (name, Mailing.Status.PAUSED)
    assert list(mailing.deliveries.values_list("status", flat=True)) == [S.FAILED]


def test_without_a_scope_a_manager_sees_only_their_own(client, anna, ben):
    annas = mailing_of(anna, S.SENT)
    client.force_login(ben)
    assert not client.get(url("mailing", "changelist")).context["cl"].result_list
    assert client.get(url("mailing", "change", annas.pk)).status_code == 302
