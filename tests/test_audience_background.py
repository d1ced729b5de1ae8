"""Creating a large mailing off the request: the `creating` state, its progress,
activation refused until ready, the chunks written by the Celery task or by the
engine loop, and a failure that loses nothing."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from example_project.crm.models import Contact
from massmail import api, creation
from massmail.creation import background
from massmail.models import Mailing, MailingCreation
from massmail.sending.runner import run

from .engine import contacts
from .factories import ContactFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(creation, "CHUNK_RECORDS", 3)


@pytest.fixture
def massmail(settings):
    def configure(**keys):
        settings.MASSMAIL = {**settings.MASSMAIL, **keys}
    return configure


def in_background(manager, querysets=None):
    return api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                              recipients=querysets or [Contact.objects.filter(owner=manager)],
                              in_background=True)


def reload(mailing):
    return Mailing.objects.get(pk=mailing.pk)


def test_creating_state_progress_and_activation_refused_until_ready(small_chunks, account_on,
                                                                     massmail):
    massmail(DISPATCH_ON_ACTIVATE=False)
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 7)
    ContactFactory(owner=manager, email="")
    mailing = in_background(manager)
    assert (mailing.status, api.creation_progress(mailing), mailing.deliveries.count()) == (
        "creating", (0, 8), 0)
    assert api.why_not_sending(mailing) == [
        "The mailing is being created: 0 of 8 records processed. It can be activated when it "
        "is ready."]
    with pytest.raises(api.ActivationError, match="still being created"):
        api.activate(mailing)

    assert background.step(mailing.pk)
    mailing = reload(mailing)
    assert (mailing.status, api.creation_progress(mailing), mailing.deliveries.count()) == (
        "creating", (3, 8), 3)
    with pytest.raises(api.ActivationError):
        api.activate(mailing)
    assert background.step(mailing.pk) and background.step(mailing.pk)

    mailing = reload(mailing)
    assert (mailing.status, api.creation_progress(mailing)) == ("paused", None)
    assert mailing.excluded == {"no_address": 1}
    assert sorted(mailing.deliveries.values_list("email", flat=True)) == sorted(
        p.email for p in people)
    assert not MailingCreation.objects.exists()
    assert not background.step(mailing.pk)
    api.activate(mailing)


def test_the_engine_loop_creates_without_celery(small_chunks, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False)
    manager = UserFactory()
    contacts(manager, 5)
    ContactFactory(owner=manager, email="Dup@example.org")
    ContactFactory(owner=manager, email="dup@EXAMPLE.org")
    mailing = in_background(manager)
    run()
    mailing = reload(mailing)
    assert (mailing.status, mailing.deliveries.count(), mailing.excluded) == (
        "paused", 6, {"duplicate": 1})


def test_a_failing_chunk_keeps_what_was_written_and_says_why(small_chunks, massmail, monkeypatch):
    massmail(DISPATCH_ON_ACTIVATE=False)
    manager = UserFactory()
    contacts(manager, 5)
    mailing = in_background(manager)
    assert background.step(mailing.pk)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(background, "add_chunk", broken)
    assert not background.step(mailing.pk)
    assert not background.step_next()  # a failed creation is not retried in a loop
    job = MailingCreation.objects.get()
    assert (job.error, job.done, reload(mailing).status, mailing.deliveries.count()) == (
        "the database went away", 3, "creating", 3)


def test_admin_creates_large_lists_in_the_background(client, anna, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False, CREATE_IN_BACKGROUND_ABOVE=2)
    client.force_login(anna)
    contacts(anna, 3)
    message = MessageFactory(owner=anna)
    response = client.post(reverse("admin:crm_contact_massmail_create_mailing"),
                           {"message": message.pk, "name": "Big", "_create": "1"}, follow=True)
    mailing = Mailing.objects.get()
    assert (mailing.status, mailing.name, api.creation_progress(mailing)) == ("creating", "Big",
                                                                            (0, 3))
    assert "is being created in the background" in response.content.decode()
    run()
    assert reload(mailing).status == "paused"
    assert mailing.deliveries.count() == 3


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_celery_worker_creates_in_the_background(redis_url, small_chunks):
    from example_project.celery import app

    manager = UserFactory()
    contacts(manager, 8)
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    app.control.purge()
    with override_settings(MASSMAIL={**settings.MASSMAIL, "DISPATCH_ON_ACTIVATE": True}), \
            start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        mailing = in_background(manager)
        deadline = time.monotonic() + 60
        while reload(mailing).status == "creating":
            assert time.monotonic() < deadline, "timed out waiting for the worker"
            time.sleep(0.05)
    assert mailing.deliveries.count() == 8


# --- the "Create mailing" page of a large list ----------------------------------------------

CREATE = reverse("admin:crm_contact_massmail_create_mailing")
NOTE = "are counted while the mailing is created"


@pytest.fixture
def counting_refused(monkeypatch):
    """Counting a large list costs as much as creating it: the page must not."""
    def refused(**kwargs):
        raise AssertionError("the page of a large list counted its recipients")
    monkeypatch.setattr(api, "count_recipients", refused)


def shows_recount(content):
    return 'name="_recount"' in content or "data-massmail-recount" in content


@pytest.mark.usefixtures("counting_refused")
def test_large_list_page_shows_the_records_and_counts_nothing(as_anna, anna, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False, CREATE_IN_BACKGROUND_ABOVE=2)
    contacts(anna, 3)
    message = MessageFactory(owner=anna)

    for response in (as_anna.get(CREATE),
                     as_anna.post(CREATE, {"message": message.pk, "skip_already_received": "on",
                                           "_recount": "1"})):
        content = response.content.decode()
        assert (response.status_code, response.context["records"]) == (200, 3)
        assert "3 records in this list." in content and NOTE in content
        assert "more than 2 records" in content
        assert not shows_recount(content) and 'id="massmail-count"' not in content
    assert not Mailing.objects.exists()

    as_anna.post(CREATE, {"message": message.pk, "name": "Big", "_create": "1"})
    assert Mailing.objects.get().status == "creating"


@pytest.mark.usefixtures("counting_refused")
def test_large_list_with_another_managers_message_creates_nothing(as_anna, anna, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False, CREATE_IN_BACKGROUND_ABOVE=2)
    contacts(anna, 3)
    theirs = MessageFactory(owner=UserFactory())
    response = as_anna.post(CREATE, {"message": theirs.pk, "name": "Big", "_create": "1"})
    assert response.status_code == 200 and response.context["form"].errors["message"]
    assert not Mailing.objects.exists() and not MailingCreation.objects.exists()


def test_below_the_threshold_the_page_still_counts(as_anna, anna, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False, CREATE_IN_BACKGROUND_ABOVE=4)
    contacts(anna, 3)
    ContactFactory(owner=anna, email="")  # 4 records: not above the threshold
    response = as_anna.get(CREATE)
    content = response.content.decode()
    assert (response.context["count"], response.context["records"]) == (3, 4)
    assert 'data-count="3"' in content and "No email address" in content
    assert shows_recount(content) and NOTE not in content


def test_a_record_with_two_addresses_is_one_record_of_the_list(as_anna, anna, massmail):
    massmail(DISPATCH_ON_ACTIVATE=False)
    ContactFactory(owner=anna, email="first@example.org, second@example.net")
    contacts(anna, 1)
    response = as_anna.get(CREATE)
    assert (response.context["count"], response.context["records"]) == (3, 2)
    assert "2 records in this list." in response.content.decode()


def test_large_list_page_costs_the_same_queries_however_long_the_list(
        as_anna, anna, massmail, small_chunks):
    """With chunks of 3 records, counting 3 and 23 records would cost different numbers
    of queries: the page of a large list counts nothing."""
    massmail(CREATE_IN_BACKGROUND_ABOVE=2)
    contacts(anna, 3)
    with CaptureQueriesContext(connection) as queries:
        as_anna.get(CREATE)
    first = len(queries)
    contacts(anna, 20)
    with CaptureQueriesContext(connection) as queries:
        response = as_anna.get(CREATE)
    assert (response.context["records"], len(queries)) == (23, first)


def left_out_shown(client, mailing):
    """The "left out at creation" field of the mailing's change page, as text."""
    response = client.get(reverse("admin:massmail_mailing_change", args=[mailing.pk]))
    for fieldset in response.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.is_readonly and field.field["name"] == "excluded_display":
                    return field.contents()
    raise AssertionError("no left-out field on the mailing's page")


def test_the_mailing_page_shows_what_background_creation_left_out(as_anna, anna, massmail):
    """The counts the page of a large list does not show are on the mailing's page,
    exactly as for a mailing created on the request."""
    massmail(DISPATCH_ON_ACTIVATE=False)
    people = contacts(anna, 3)
    ContactFactory(owner=anna, email="")
    ContactFactory(owner=anna, email=people[0].email)
    message = MessageFactory(owner=anna)

    def create(threshold):
        massmail(CREATE_IN_BACKGROUND_ABOVE=threshold)
        as_anna.post(CREATE, {"message": message.pk, "_create": "1"})
        return Mailing.objects.latest("pk")

    on_request = create(1000)
    in_the_background = create(2)
    assert in_the_background.status == "creating"
    run()
    assert reload(in_the_background).status == "paused"
    shown = left_out_shown(as_anna, in_the_background)
    assert "No email address: 1" in shown and "Duplicate address: 1" in shown
    assert shown == left_out_shown(as_anna, on_request)
