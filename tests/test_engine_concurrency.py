"""Several workers on real PostgreSQL: every address exactly once, limits never exceeded."""

import threading
from collections import Counter

import pytest
from django.test import override_settings
from django.utils import timezone

from example_project.crm.models import Contact
from massmail.models import Delivery, MassmailSettings
from massmail.sending import states as claims
from massmail.sending.routing import route
from massmail.sending.runner import run

from .conftest import in_threads
from .engine import contacts, received_by_account, start_mailing
from .factories import MessageFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_workers_deliver_each_address_exactly_once(postgres, smtp_server, always_open, account_on):
    manager = UserFactory()
    limited = account_on(manager, daily_limit=25)
    account_on(manager)
    account_on(manager)
    contacts(manager, 120)
    with override_settings(MASSMAIL=_settings(BATCH_SIZE=7)):
        first = start_mailing(manager)
        second = start_mailing(manager, message=MessageFactory(owner=manager, subject="Second"))
        in_threads(4, run)

    per_address = Counter((m.message["Subject"], r) for m in smtp_server.messages
                          for r in m.rcpt_tos)
    assert set(per_address.values()) == {1}
    by_account = received_by_account(smtp_server)
    assert len(by_account[limited.from_email]) <= 25
    sent = Delivery.objects.filter(status="sent").count()
    assert sent == len(smtp_server.messages)
    assert not Delivery.objects.filter(status__in=["claimed", "sending", "unknown"]).exists()
    total = Contact.objects.count() * 2
    assert sent + Delivery.objects.filter(status="pending").count() == total
    assert {first.deliveries.count(), second.deliveries.count()} == {120}


def test_concurrent_claims_never_share_a_row_nor_exceed_the_budget(postgres, always_open,
                                                                   account_on):
    manager = UserFactory()
    account = account_on(manager, daily_limit=50)
    contacts(manager, 200)
    mailing = start_mailing(manager)
    route(mailing, [account])
    claimed = []
    lock = threading.Lock()

    def claimer():
        settings = MassmailSettings.load()
        while ids := claims.claim(mailing, account, timezone.now(), settings,
                                  claims.new_lease_owner(), size=3):
            with lock:
                claimed.extend(ids)

    in_threads(6, claimer)
    assert len(claimed) == len(set(claimed)) == 50


def _settings(**overrides):
    from django.conf import settings

    return {**settings.MASSMAIL, **overrides}
