"""The next group is made ready (rendered and committed ``sending``) while the current one
is on the wire, and given back unsent when the batch stops (massmail/sending/lookahead.py)."""

import logging
import threading
import time

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import override_settings

from massmail.models import Suppression
from massmail.sending import batch, states
from massmail.sending.dispatch import dispatch
from massmail.sending.journal import Journal

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

pytestmark = pytest.mark.django_db

GROUP_OF_TWO = override_settings(MASSMAIL={**settings.MASSMAIL, "SENDING_GROUP": 2})


@pytest.mark.django_db(transaction=True)
def test_the_next_group_is_committed_sending_while_the_first_email_waits_for_its_reply(
        smtp_server, always_open, account_on, postgres):
    manager = UserFactory()
    account_on(manager)
    contacts(manager, 6)
    mailing = start_mailing(manager)
    seen = []

    def count_sending():
        deadline = time.monotonic() + 10
        while True:
            sending = mailing.deliveries.filter(status="sending").count()
            if sending == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        seen.append(sending)
        connection.close()

    def before_the_first_reply():
        """While the engine waits for the reply to its first email: the first two groups
        are committed ``sending`` (read on another connection, off the server's loop)."""
        if not seen:
            reader = threading.Thread(target=count_sending)
            reader.start()
            reader.join()

    smtp_server.handler.on_message = before_the_first_reply
    with GROUP_OF_TWO:
        send_all()
    assert seen == [4]
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"sent"}
    assert len(smtp_server.handler.recipients()) == 6


def test_a_stop_gives_the_group_made_ready_back_unsent(smtp_server, always_open, account_on):
    manager = UserFactory()
    account = account_on(manager)
    people = contacts(manager, 6)
    smtp_server.handler.rcpt_replies[people[1].email] = [
        "550 5.4.5 Daily user sending quota exceeded"]
    mailing = start_mailing(manager)
    with GROUP_OF_TWO:
        send_all()
    account.refresh_from_db()
    assert account.paused_until is not None
    # The first email left; the second was refused for the account, the third and fourth
    # were committed ``sending`` ahead and go back: all of them wait, none is lost.
    assert smtp_server.handler.recipients() == [people[0].email]
    rows = dict(mailing.deliveries.values_list("email", "status"))
    assert rows.pop(people[0].email) == "sent"
    assert set(rows.values()) == {"pending"}
    assert not mailing.deliveries.filter(lease_owner__gt="").exclude(status="sent").exists()
    assert not Suppression.objects.exists()


def test_a_failed_write_ahead_sends_nothing_unmarked_and_loses_no_success(
        smtp_server, always_open, account_on, monkeypatch, caplog):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 4)
    mailing = start_mailing(manager)
    real_start = Journal.start
    calls = []

    def second_write_fails(self, *args, **kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise OperationalError("the server closed the connection")
        return real_start(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "start", second_write_fails)
    with GROUP_OF_TWO, caplog.at_level(logging.ERROR, logger="massmail.sending.batch"):
        ((mailing_id, account_id),) = dispatch()
        batch.send_batch(mailing_id, account_id)
    # The second group's mark failed (on the helper thread where the database allows
    # it): its emails never left, its rows wait again, the first group's successes are
    # recorded.
    helper = states.writes_in_one_request(connection)
    assert calls[1].startswith("massmail-lookahead") == helper
    assert "the server closed the connection" in caplog.text
    assert smtp_server.handler.recipients() == [people[0].email, people[1].email]
    rows = dict(mailing.deliveries.values_list("email", "status"))
    assert [rows[p.email] for p in people] == ["sent", "sent", "pending", "pending"]
    monkeypatch.setattr(Journal, "start", real_start)
    with GROUP_OF_TWO:
        send_all()
    assert set(mailing.deliveries.values_list("status", flat=True)) == {"sent"}
    assert sorted(smtp_server.handler.recipients()) == sorted(p.email for p in people)
