"""The recipient lists (Contact, Company, Lead) in the admin: creating a mailing from the
selection or from the list's filters through one confirmation page with the counts by
reason, ownership of the records, and the VIP actions."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from example_project.crm.admin import OwnRecordsAdmin
from example_project.crm.models import Contact
from massmail.admin.recipients import SELECTION_PARAM
from massmail.audience import Exclusion
from massmail.models import Delivery, Mailing, Recipient, Suppression

from .factories import (
    CompanyFactory,
    ContactFactory,
    DeliveryFactory,
    LeadFactory,
    MailingFactory,
    MessageFactory,
    RecipientFactory,
    SuperuserFactory,
    SuppressionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:crm_contact_changelist")
CREATE = reverse("admin:crm_contact_massmail_create_mailing")


def excluded_shown(response):
    """{reason: number} as the confirmation page lists them."""
    labels = {str(label): reason for reason, label in Exclusion.LABELS.items()}
    return {labels[str(label)]: number for label, number, _url in response.context["excluded"]}


def run_action(client, action, records, **params):
    return client.post(CHANGELIST + params.pop("query", ""), {
        "action": action, "_selected_action": [r.pk for r in records], **params,
    })


# --- the confirmation page -------------------------------------------------------------


@pytest.fixture
def unscoped_crm_admin(monkeypatch):
    """A host admin that lists every manager's records: massmail's own ownership check
    must still leave the others out."""
    monkeypatch.setattr(OwnRecordsAdmin, "get_queryset", admin.ModelAdmin.get_queryset)


@pytest.mark.usefixtures("unscoped_crm_admin")
def test_count_page_counts_every_exclusion_reason(as_anna, anna, ben):
    mailed = [ContactFactory(owner=anna) for _ in range(3)]
    ContactFactory(owner=anna, email=mailed[1].email)  # the same address twice
    ContactFactory(owner=anna, disqualified=True)
    ContactFactory(owner=anna, massmail=False)
    ContactFactory(owner=anna, email="")
    ContactFactory(owner=anna, email="not-an-address")
    SuppressionFactory(email=ContactFactory(owner=anna).email, reason=Suppression.Reason.UNSUBSCRIBED)
    SuppressionFactory(email=ContactFactory(owner=anna).email, reason=Suppression.Reason.BOUNCED)
    ContactFactory.create_batch(2, owner=ben)

    response = as_anna.get(CREATE)

    assert response.status_code == 200
    assert response.context["count"] == 3
    assert excluded_shown(response) == {
        Exclusion.NOT_OWNER: 2, Exclusion.DUPLICATE: 1, Exclusion.NOT_ELIGIBLE: 1,
        Exclusion.HOST_UNSUBSCRIBED: 1, Exclusion.NO_ADDRESS: 1, Exclusion.INVALID_ADDRESS: 1,
        Exclusion.UNSUBSCRIBED: 1, Exclusion.SUPPRESSED: 1,
    }
    assert response.context["records"] == Contact.objects.count()
    content = response.content.decode()
    assert 'data-count="3"' in content
    assert "Owned by another manager" in content
    assert not Mailing.objects.exists()  # counting creates nothing


def test_recount_leaves_out_addresses_that_already_received_the_message(as_anna, anna):
    message = MessageFactory(owner=anna)
    first, *others = [ContactFactory(owner=anna) for _ in range(3)]
    earlier = MailingFactory(owner=anna, message=message)
    DeliveryFactory(mailing=earlier, recipient=RecipientFactory(record=first), email=first.email,
                    status=Delivery.Status.SENT)

    plain = as_anna.post(CREATE, {"message": message.pk, "_recount": "1"})
    skipping = as_anna.post(CREATE, {"message": message.pk, "skip_already_received": "on",
                                     "_recount": "1"})

    assert plain.context["count"] == 3
    assert (skipping.context["count"], excluded_shown(skipping)) == (
        2, {Exclusion.ALREADY_RECEIVED: 1})
    assert Mailing.objects.count() == 1


def test_message_picker_offers_only_the_manager_s_messages(as_anna, anna, ben):
    own = MessageFactory(owner=anna, subject="Anna's news")
    MessageFactory(owner=ben, subject="Ben's news")
    ContactFactory(owner=anna)

    response = as_anna.get(CREATE)

    form = response.context["form"]
    assert list(form.fields["message"].queryset) == [own]
    assert "owner" not in form.fields
    assert "Ben&#x27;s news" not in response.content.decode()


# --- the button: every record matching the list's filters -------------------------------


def test_button_carries_the_list_s_filters_and_search(as_anna):
    response = as_anna.get(CHANGELIST, {"company__country": "Germany", "q": "smith"})
    assert response.status_code == 200
    assert f'href="{CREATE}?company__country=Germany&amp;q=smith"' in response.content.decode()


def test_create_from_filters_takes_every_matching_record(as_anna, anna):
    germany, france = CompanyFactory(owner=anna, country="Germany"), CompanyFactory(owner=anna,
                                                                                  country="France")
    berliners = [ContactFactory(owner=anna, company=germany) for _ in range(3)]
    ContactFactory(owner=anna, company=france)
    ContactFactory(owner=anna, company=germany, last_name="Other")
    message = MessageFactory(owner=anna)
    url = f"{CREATE}?company__country=Germany&q=smith"

    assert as_anna.get(url).context["count"] == 3
    response = as_anna.post(url, {"message": message.pk, "name": "Germany", "_create": "1"})

    mailing = Mailing.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:massmail_mailing_change", args=[mailing.pk])
    assert (mailing.owner, mailing.message, mailing.name, mailing.status) == (
        anna, message, "Germany", Mailing.Status.PAUSED)
    assert set(mailing.deliveries.values_list("email", flat=True)) == {c.email for c in berliners}
    page = as_anna.get(response.url)
    assert "was created, paused, with 3 recipients" in page.content.decode()


def test_create_needs_a_message(as_anna, anna):
    ContactFactory(owner=anna)
    response = as_anna.post(CREATE, {"_create": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["message"]
    assert not Mailing.objects.exists()


def test_bad_filter_goes_back_to_the_list(as_anna):
    response = as_anna.get(CREATE, {"id__gte": "not a number"})
    assert response.status_code == 302
    assert response.url == CHANGELIST + "?e=1"


# --- the action: the selected records -------------------------------------------------------


def test_create_from_selected_keeps_the_ids_out_of_the_url(as_anna, anna):
    chosen = [ContactFactory(owner=anna) for _ in range(2)]
    ContactFactory(owner=anna)
    message = MessageFactory(owner=anna)

    response = run_action(as_anna, "massmail_create_mailing", chosen)

    assert response.status_code == 302
    query = parse_qs(urlsplit(response.url).query)
    assert urlsplit(response.url).path == CREATE
    assert list(query) == [SELECTION_PARAM]
    assert str(chosen[0].pk) not in query[SELECTION_PARAM][0]
    assert as_anna.get(response.url).context["count"] == 2

    created = as_anna.post(response.url, {"message": message.pk, "_create": "1"})

    assert created.status_code == 302
    mailing = Mailing.objects.get()
    assert set(mailing.deliveries.values_list("email", flat=True)) == {c.email for c in chosen}
    # The selection is used up: a second submit cannot create a duplicate mailing.
    again = as_anna.post(response.url, {"message": message.pk, "_create": "1"})
    assert (again.status_code, again.url) == (302, CHANGELIST)
    assert Mailing.objects.count() == 1


def test_selecting_all_across_pages_uses_the_filters(as_anna, anna):
    germany = CompanyFactory(owner=anna, country="Germany")
    records = [ContactFactory(owner=anna, company=germany) for _ in range(2)]

    response = run_action(as_anna, "massmail_create_mailing", records[:1], select_across="1",
                          query="?company__country=Germany")

    assert response.status_code == 302
    assert response.url == f"{CREATE}?company__country=Germany"


def test_a_selection_of_another_list_is_refused(as_anna, anna):
    """A token stored for the lead list cannot open the contact page with lead ids."""
    lead = LeadFactory(owner=anna)
    response = as_anna.post(reverse("admin:crm_lead_changelist"), {
        "action": "massmail_create_mailing", "_selected_action": [lead.pk]})
    token = parse_qs(urlsplit(response.url).query)[SELECTION_PARAM][0]

    refused = as_anna.get(CREATE, {SELECTION_PARAM: token})

    assert (refused.status_code, refused.url) == (302, CHANGELIST)


def test_company_list_has_the_same_page(as_anna, anna):
    CompanyFactory.create_batch(2, owner=anna)
    response = as_anna.get(reverse("admin:crm_company_massmail_create_mailing"))
    assert response.context["count"] == 2


# --- ownership -----------------------------------------------------------------------------


@pytest.mark.usefixtures("unscoped_crm_admin")
def test_manager_cannot_include_another_manager_s_records(as_anna, anna, ben):
    own = ContactFactory(owner=anna)
    others = [ContactFactory(owner=ben) for _ in range(2)]
    message = MessageFactory(owner=anna)
    response = run_action(as_anna, "massmail_create_mailing", [own, *others])
    page = as_anna.get(response.url)
    assert (page.context["count"], excluded_shown(page)) == (1, {Exclusion.NOT_OWNER: 2})

    # Naming Ben as the owner is ignored: a manager has no owner field.
    as_anna.post(response.url, {"message": message.pk, "owner": ben.pk, "_create": "1"})

    mailing = Mailing.objects.get()
    assert mailing.owner == anna
    assert list(mailing.deliveries.values_list("email", flat=True)) == [own.email]
    assert mailing.excluded == {Exclusion.NOT_OWNER: 2}


def test_manager_cannot_use_another_manager_s_message(as_anna, anna, ben):
    ContactFactory(owner=anna)
    response = as_anna.post(CREATE, {"message": MessageFactory(owner=ben).pk, "_create": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["message"]
    assert not Mailing.objects.exists()


def test_superuser_picks_the_owner(client, anna, ben):
    client.force_login(SuperuserFactory())
    ContactFactory.create_batch(3, owner=anna)
    bens = ContactFactory.create_batch(2, owner=ben)
    bens_message, annas_message = MessageFactory(owner=ben), MessageFactory(owner=anna)

    page = client.get(CREATE)
    assert page.context["form"].initial["owner"] == anna  # who owns most of the records
    assert page.context["count"] == 3
    wrong = client.post(CREATE, {"owner": ben.pk, "message": annas_message.pk, "_create": "1"})
    assert wrong.context["form"].errors["message"]
    recount = client.post(CREATE, {"owner": ben.pk, "_recount": "1"})
    assert (recount.context["count"], excluded_shown(recount)) == (2, {Exclusion.NOT_OWNER: 3})

    client.post(CREATE, {"owner": ben.pk, "message": bens_message.pk, "_create": "1"})

    mailing = Mailing.objects.get()
    assert (mailing.owner, mailing.message) == (ben, bens_message)
    assert set(mailing.deliveries.values_list("email", flat=True)) == {c.email for c in bens}


def test_creating_mailings_needs_the_permission(client, anna):
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.set(Permission.objects.filter(codename="view_contact"))
    ContactFactory(owner=anna)
    client.force_login(viewer)

    page = client.get(CHANGELIST)

    assert page.status_code == 200
    assert CREATE not in page.content.decode()
    assert "massmail_create_mailing" not in page.content.decode()
    assert client.get(CREATE).status_code == 403


# --- VIP -------------------------------------------------------------------------------------


def vip_ids():
    content_type = ContentType.objects.get_for_model(Contact)
    return set(Recipient.objects.filter(content_type=content_type, vip=True)
               .values_list("object_id", flat=True))


def test_vip_actions_change_only_own_records(as_anna, anna, ben):
    own = ContactFactory.create_batch(2, owner=anna)
    other = ContactFactory(owner=ben)

    response = run_action(as_anna, "massmail_mark_vip", [*own, other])

    assert vip_ids() == {c.pk for c in own}
    page = as_anna.get(response.url).content.decode()
    assert "2 records are now VIP." in page
    assert "1 record was refused: it belongs to another manager." in page
    listed = as_anna.get(CHANGELIST, {"massmail_vip": "1"})
    assert {c.pk for c in listed.context["cl"].result_list} == {c.pk for c in own}

    run_action(as_anna, "massmail_unmark_vip", [own[0], other])

    assert vip_ids() == {own[1].pk}


def test_another_manager_cannot_unmark_vip(client, anna, ben):
    record = ContactFactory(owner=anna)
    Recipient.objects.create(content_type=ContentType.objects.get_for_model(Contact),
                             object_id=record.pk, vip=True)
    client.force_login(ben)
    response = run_action(client, "massmail_unmark_vip", [record])
    assert vip_ids() == {record.pk}
    page = client.get(response.url)
    # Nothing of Ben's changed: no success message, only the refusal, as an error.
    assert [(m.level_tag, m.message) for m in page.context["messages"]] == [
        ("error", "1 record was refused: it belongs to another manager.")]


def test_vip_feedback_counts_what_changed_and_what_already_was(as_anna, anna):
    records = ContactFactory.create_batch(3, owner=anna)
    run_action(as_anna, "massmail_mark_vip", records[:1])

    response = run_action(as_anna, "massmail_mark_vip", records)

    messages = [m.message for m in as_anna.get(response.url).context["messages"]]
    assert messages[-1] == "2 records are now VIP. 1 already was."


# --- the example CRM's own admin ----------------------------------------------------------


def test_example_crm_shows_each_manager_only_their_records(client, anna, ben):
    own = ContactFactory(owner=anna)
    ContactFactory(owner=ben)
    client.force_login(anna)
    assert [c.pk for c in client.get(CHANGELIST).context["cl"].result_list] == [own.pk]
    client.force_login(SuperuserFactory())
    assert client.get(CHANGELIST).context["cl"].result_count == 2


def test_vip_feedback_counts_ticked_records_the_scoped_list_hides(as_anna, anna, ben):
    own = ContactFactory(owner=anna)
    other = ContactFactory(owner=ben)

    response = run_action(as_anna, "massmail_mark_vip", [own, other])

    texts = [m.message for m in as_anna.get(response.url).context["messages"]]
    assert texts == ["1 record is now VIP.", "1 record was refused: it belongs to another manager."]
    assert vip_ids() == {own.pk}


# --- context on the create page ---------------------------------------------------------------


def left_out_links(response):
    """{reason: the list URL its row links to}."""
    labels = {str(label): reason for reason, label in Exclusion.LABELS.items()}
    return {labels[str(label)]: url for label, _number, url in response.context["excluded"]}


def listed(client, url):
    return {c.pk for c in client.get(url).context["cl"].result_list}


@pytest.mark.usefixtures("unscoped_crm_admin")
def test_each_left_out_reason_links_to_exactly_those_records(as_anna, anna, ben):
    germany = CompanyFactory(owner=anna, country="Germany")
    mailed = ContactFactory(owner=anna, company=germany)
    twin = ContactFactory(owner=anna, company=germany, email=mailed.email)
    others = {ContactFactory(owner=ben, company=germany).pk}
    no_address = ContactFactory(owner=anna, company=germany, email="")
    invalid = ContactFactory(owner=anna, company=germany, email="not-an-address")
    opted_out = ContactFactory(owner=anna, company=germany, massmail=False)
    disqualified = ContactFactory(owner=anna, company=germany, disqualified=True)
    unsubscribed = ContactFactory(owner=anna, company=germany)
    SuppressionFactory(email=unsubscribed.email, reason=Suppression.Reason.UNSUBSCRIBED)
    bounced = ContactFactory(owner=anna, company=germany)
    SuppressionFactory(email=bounced.email, reason=Suppression.Reason.BOUNCED)
    ContactFactory(owner=anna, company=CompanyFactory(owner=anna, country="France"), email="")

    page = as_anna.get(CREATE, {"company__country": "Germany"})

    assert page.context["origin"] == ["country: Germany"]
    links = left_out_links(page)
    expected = {
        Exclusion.NOT_OWNER: others, Exclusion.NO_ADDRESS: {no_address.pk},
        Exclusion.INVALID_ADDRESS: {invalid.pk}, Exclusion.HOST_UNSUBSCRIBED: {opted_out.pk},
        Exclusion.NOT_ELIGIBLE: {disqualified.pk}, Exclusion.UNSUBSCRIBED: {unsubscribed.pk},
        Exclusion.SUPPRESSED: {bounced.pk}, Exclusion.DUPLICATE: {twin.pk},
    }
    assert set(links) == set(expected)
    for reason, records in expected.items():
        assert "company__country=Germany" in links[reason]
        assert listed(as_anna, links[reason]) == records, reason


def test_page_from_a_selection_says_so_and_links_within_it(as_anna, anna):
    chosen = [ContactFactory(owner=anna, email="") for _ in range(2)]
    ContactFactory(owner=anna, email="")  # not selected
    response = run_action(as_anna, "massmail_create_mailing", chosen)
    page = as_anna.get(response.url)
    assert page.context["origin"] == ["2 selected records"]
    assert listed(as_anna, left_out_links(page)[Exclusion.NO_ADDRESS]) == {c.pk for c in chosen}


def test_search_is_shown(as_anna, anna):
    ContactFactory(owner=anna, last_name="Quist")
    page = as_anna.get(CREATE, {"q": "Quist"})
    assert page.context["origin"] == ["search “Quist”"]
    assert "search “Quist”" in page.content.decode()


def test_without_a_message_the_page_offers_to_create_one_and_comes_back(as_anna, anna):
    ContactFactory(owner=anna)
    page = as_anna.get(CREATE, {"q": "Ann"})
    add_url = page.context["add_message_url"]
    assert add_url and 'id="massmail-add-message"' in page.content.decode()

    response = as_anna.post(add_url, {
        "subject": "Hello", "signature": "", "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0,
        "content": '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'})

    assert response.status_code == 302
    assert response.url == CREATE + "?q=Ann"
    again = as_anna.get(response.url)
    assert again.context["add_message_url"] is None
    assert [m.subject for m in again.context["form"].fields["message"].queryset] == ["Hello"]


def test_return_link_never_leaves_the_site(as_anna, anna):
    add = reverse("admin:massmail_message_add")
    response = as_anna.post(add + "?_massmail_return=https://evil.example/", {
        "subject": "Hello", "signature": "", "attachments-TOTAL_FORMS": 0,
        "attachments-INITIAL_FORMS": 0,
        "content": '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'})
    assert "evil.example" not in response.url
