"""A worker killed in the middle of a batch: nothing is ever sent twice.

The engine runs as `manage.py massmail_send` in its own process against the test
database and is killed with SIGKILL by the SMTP server while a message is in flight.
"""

import datetime
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from massmail.conf import conf
from massmail.models import Delivery

from .engine import contacts, send_all, start_mailing
from .factories import UserFactory

# The engine runs in another process, on the real clock: so does this test.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.wall_clock]
ROOT = Path(__file__).resolve().parent.parent


def engine_process():
    database = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
                           f"/{database['NAME']}",
           "REDIS_URL": "", "MASSMAIL_LOG_LEVEL": "ERROR"}
    return subprocess.Popen([sys.executable, "manage.py", "massmail_send"], cwd=ROOT, env=env)


def test_killed_worker_never_causes_a_second_send(postgres, smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    people = contacts(manager, 30)
    mailing = start_mailing(manager)
    process = engine_process()

    def kill_during_the_thirteenth_message():
        if len(smtp_server.messages) == 13:
            os.kill(process.pid, signal.SIGKILL)

    smtp_server.handler.on_message = kill_during_the_thirteenth_message
    assert process.wait(timeout=60) == -signal.SIGKILL
    smtp_server.handler.on_message = None

    statuses = Counter(mailing.deliveries.values_list("status", flat=True))
    group = settings.MASSMAIL.get("SENDING_GROUP", 10)
    assert statuses["sent"] <= 12
    # The group under way and the one made ready after it (lookahead.py): marked before
    # the kill, outcome not recorded.
    assert 0 < statuses["sending"] <= 2 * group
    # After the leases expire, the next worker sends the rest and resends nothing.
    # Leases are short: the rows come back a lease later, not minutes later.
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=conf.LEASE_SECONDS + 1),
                             tick=False):
        send_all()
    received = Counter(smtp_server.handler.recipients())
    assert set(received.values()) == {1}
    unknown = set(mailing.deliveries.filter(status="unknown").values_list("email", flat=True))
    sent = set(mailing.deliveries.filter(status="sent").values_list("email", flat=True))
    assert len(unknown) == statuses["sending"]
    assert sent | unknown == {c.email for c in people}
    # Every sent row was received. Of the unknown ones (the groups marked at the kill)
    # those already sent were received once, the others never: none was resent.
    assert sent <= set(received)
    assert set(received) - sent <= unknown
    assert not mailing.deliveries.filter(status__in=[Delivery.Status.PENDING,
                                                     Delivery.Status.CLAIMED]).exists()
