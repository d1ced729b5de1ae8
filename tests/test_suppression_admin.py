"""The suppression list in the admin (superusers only, CSV export), and what managers see
of it: the suppression reason on their recipient lists and delivery rows."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from massmail.models import Delivery, Suppression

from .conftest import make_manager, with_every_permission
from .factories import (
    ContactFactory,
    DeliveryFactory,
    MailingFactory,
    SuperuserFactory,
    SuppressionFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:massmail_suppression_changelist"
EXPORT = "admin:massmail_suppression_export"


@pytest.fixture
def superuser_client(client):
    client.force_login(SuperuserFactory())
    return client


@pytest.fixture
def manager():
    return make_manager("manager")


def csv_rows(response):
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="suppressed-addresses-')
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def entries():
    mailing = MailingFactory(name="Spring news")
    return {
        "ann": SuppressionFactory(email="ann@example.org", reason=Suppression.Reason.UNSUBSCRIBED,
                                  channel=Suppression.Channel.ONE_CLICK, mailing=mailing),
        "bob": SuppressionFactory(email="bob@example.org", reason=Suppression.Reason.BOUNCED,
                                  channel=Suppression.Channel.SMTP, note="550 5.1.1 no such user"),
        "eve": SuppressionFactory(email="eve@example.org", reason=Suppression.Reason.MANUAL,
                                  channel=Suppression.Channel.ADMIN, note="=HYPERLINK(\"x\")"),
    }


def test_export_streams_the_filtered_list(superuser_client, entries):
    rows = csv_rows(superuser_client.get(reverse(EXPORT), {"reason__exact": "unsubscribed"}))

    ann = entries["ann"]
    assert rows == [
        ["email", "reason", "channel", "mailing_id", "mailing_name", "note", "created_at"],
        ["ann@example.org", "unsubscribed", "one_click", str(ann.mailing_id), "Spring news", "",
         ann.created_at.isoformat()],
    ]


def test_export_everything_searched_and_defused(superuser_client, entries):
    rows = csv_rows(superuser_client.get(reverse(EXPORT)))
    assert sorted(row[0] for row in rows[1:]) == ["ann@example.org", "bob@example.org", "eve@example.org"]
    # A spreadsheet would run the note as a formula.
    assert [row[5] for row in rows if row[0] == "eve@example.org"] == ["'=HYPERLINK(\"x\")"]

    rows = csv_rows(superuser_client.get(reverse(EXPORT), {"q": "no such user"}))
    assert [row[0] for row in rows[1:]] == ["bob@example.org"]


def test_changelist_button_exports_the_current_filters(superuser_client, entries):
    response = superuser_client.get(reverse(CHANGELIST), {"reason__exact": "bounced", "q": "bob"})
    assert response.status_code == 200
    assert f'href="{reverse(EXPORT)}?reason__exact=bounced&amp;q=bob"' in response.content.decode()
    assert "Export CSV" in response.content.decode()


def test_export_action_exports_the_selection(superuser_client, entries):
    response = superuser_client.post(reverse(CHANGELIST), {
        "action": "export_csv",
        "_selected_action": [entries["ann"].pk, entries["eve"].pk],
    })
    assert sorted(row[0] for row in csv_rows(response)[1:]) == ["ann@example.org", "eve@example.org"]


def test_bad_filter_on_export_goes_back_to_the_list(superuser_client, entries):
    response = superuser_client.get(reverse(EXPORT), {"created_at__gte": "not a date"})
    assert response.status_code == 302
    assert response.url == reverse(CHANGELIST) + "?e=1"


def test_manual_add_normalises_and_records_the_channel(superuser_client):
    add = reverse("admin:massmail_suppression_add")
    form = superuser_client.get(add)
    assert form.context["adminform"].form.initial["reason"] == Suppression.Reason.MANUAL

    response = superuser_client.post(add, {"email": " Someone@Example.ORG ", "reason": "manual",
                                           "note": "Asked by phone"})

    assert response.status_code == 302
    entry = Suppression.objects.get()
    assert (entry.email, entry.reason, entry.channel, entry.note) == (
        "Someone@example.org", Suppression.Reason.MANUAL, Suppression.Channel.ADMIN, "Asked by phone")

    again = superuser_client.post(add, {"email": "Someone@EXAMPLE.org", "reason": "manual"})
    assert again.status_code == 200  # the form says it exists, no IntegrityError
    assert again.context["adminform"].form.errors["email"]
    assert Suppression.objects.count() == 1


def test_superuser_can_remove_an_entry(superuser_client, entries):
    delete = reverse("admin:massmail_suppression_delete", args=[entries["bob"].pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Suppression.objects.filter(email="bob@example.org").exists()


def test_manager_cannot_reach_the_suppression_admin(client, manager, entries):
    # Even with every model permission, view_suppression included: superusers only.
    client.force_login(with_every_permission(manager))
    for url in (reverse(CHANGELIST), reverse(EXPORT), reverse("admin:massmail_suppression_add"),
                reverse("admin:massmail_suppression_change", args=[entries["ann"].pk])):
        assert client.get(url).status_code == 403, url
    assert "suppression" not in client.get(reverse("admin:index")).content.decode()


# --- what managers see -------------------------------------------------------------


def contact_list(client, **params):
    response = client.get(reverse("admin:crm_contact_changelist"), params)
    assert response.status_code == 200
    return response


def test_manager_sees_why_own_recipients_are_suppressed(client, manager):
    # Stored with another spelling of the domain: still the suppressed address.
    ann = ContactFactory(owner=manager, email="Ann@Example.ORG")
    # Addresses are compared without regard to letter case: the same address.
    other_ann = ContactFactory(owner=manager, email="ANN@example.org")
    bob = ContactFactory(owner=manager, email="bob@example.org")
    SuppressionFactory(email="Ann@example.org", reason=Suppression.Reason.UNSUBSCRIBED)
    client.force_login(manager)

    response = contact_list(client, owner__id__exact=manager.pk)

    shown = {c.pk: c._massmail_suppression for c in response.context["cl"].result_list}
    assert shown == {ann.pk: "unsubscribed", other_ann.pk: "unsubscribed", bob.pk: None}
    content = response.content.decode()
    assert '<td class="field-massmail_suppressed">unsubscribed</td>' in content
    assert "column-massmail_suppressed" in content


@pytest.mark.parametrize(("choice", "expected"), [
    ("yes", {"ann", "bob"}), ("bounced", {"bob"}), ("no", {"eve"}),
])
def test_manager_filters_by_suppression(client, manager, choice, expected):
    contacts = {name: ContactFactory(owner=manager, email=f"{name}@example.org")
                for name in ("ann", "bob", "eve")}
    SuppressionFactory(email="ann@example.org", reason=Suppression.Reason.UNSUBSCRIBED)
    SuppressionFactory(email="bob@example.org", reason=Suppression.Reason.BOUNCED)
    client.force_login(manager)

    response = contact_list(client, massmail_suppressed=choice)

    assert {c.pk for c in response.context["cl"].result_list} == {contacts[n].pk for n in expected}


def test_suppressed_column_costs_no_query_per_row(client, manager):
    client.force_login(manager)

    def queries_for_list():
        with CaptureQueriesContext(connection) as queries:
            contact_list(client)
        return len(queries)

    ContactFactory(owner=manager)
    one_row = queries_for_list()
    for n in range(8):
        contact = ContactFactory(owner=manager)
        if n % 2:
            SuppressionFactory(email=contact.email)
    assert queries_for_list() == one_row


def test_delivery_rows_show_the_suppression_reason(client, manager):
    mailing = MailingFactory(owner=manager)
    bounced = DeliveryFactory(mailing=mailing, status=Delivery.Status.FAILED)
    fine = DeliveryFactory(mailing=mailing, status=Delivery.Status.SENT)
    SuppressionFactory(email=bounced.email, reason=Suppression.Reason.BOUNCED)
    client.force_login(manager)

    response = client.get(reverse("admin:massmail_delivery_changelist"))

    assert response.status_code == 200
    shown = {d.pk: d._suppression for d in response.context["cl"].result_list}
    assert shown == {bounced.pk: "bounced", fine.pk: None}
    assert '<td class="field-suppressed">bounced</td>' in response.content.decode()
