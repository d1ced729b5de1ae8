"""VIP recipients through the main account only, everyone else never through it, and
each recipient from the same account every time."""

import pytest

from example_project.crm.models import Contact
from massmail import api
from massmail.models import Delivery, Recipient

from .engine import contacts, mark_vip, received_by_account, send_all, start_mailing
from .factories import MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_vip_only_through_main_and_others_never(smtp_server, always_open, account_on):
    manager = UserFactory()
    main = account_on(manager, main=True)
    other_a = account_on(manager)
    other_b = account_on(manager)
    vips = contacts(manager, 3)
    regular = contacts(manager, 8)
    mark_vip(vips)

    mailing = start_mailing(manager)
    send_all()

    by_account = received_by_account(smtp_server)
    assert sorted(by_account[main.from_email]) == sorted(c.email for c in vips)
    non_main = by_account.get(other_a.from_email, []) + by_account.get(other_b.from_email, [])
    assert sorted(non_main) == sorted(c.email for c in regular)
    assert by_account[other_a.from_email] and by_account[other_b.from_email]  # spread
    assert mailing.deliveries.filter(status=Delivery.Status.SENT).count() == 11
    for message in smtp_server.messages:
        assert message.message["From"] == message.mail_from


def test_each_recipient_sticks_to_one_account_across_mailings(smtp_server, always_open, account_on):
    manager = UserFactory()
    account_on(manager)
    account_on(manager)
    account_on(manager)
    contacts(manager, 9)

    start_mailing(manager)
    send_all()
    first = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
    smtp_server.messages.clear()

    start_mailing(manager)
    send_all()
    second = {m.rcpt_tos[0]: m.mail_from for m in smtp_server.messages}
    assert first == second
    assert len(set(first.values())) == 3


def test_sticky_account_replaced_when_it_becomes_unusable(smtp_server, always_open, account_on):
    manager = UserFactory()
    first_account = account_on(manager)
    contacts(manager, 2)
    start_mailing(manager)
    send_all()
    first_account.massmail = False
    first_account.save()
    second_account = account_on(manager)
    smtp_server.messages.clear()

    start_mailing(manager)
    send_all()
    assert {m.mail_from for m in smtp_server.messages} == {second_account.from_email}
    assert set(Recipient.objects.values_list("account", flat=True)) == {second_account.pk}


def test_only_main_account_sends_vips_and_non_vips_wait(smtp_server, always_open, account_on):
    manager = UserFactory()
    main = account_on(manager, main=True)
    vips = contacts(manager, 2)
    contacts(manager, 3)
    mark_vip(vips)

    mailing = api.create_mailing(owner=manager, message=MessageFactory(owner=manager),
                                 recipients=[Contact.objects.filter(owner=manager)])
    warnings = api.activate(mailing)
    assert any("3 non-VIP recipients will wait" in w for w in warnings)
    send_all()

    by_account = received_by_account(smtp_server)
    assert list(by_account) == [main.from_email]
    assert sorted(by_account[main.from_email]) == sorted(c.email for c in vips)
    assert mailing.deliveries.filter(status=Delivery.Status.PENDING).count() == 3
    reasons = api.why_not_sending(mailing)
    assert any("3 non-VIP recipients wait" in r for r in reasons)


def test_vip_goes_through_other_accounts_when_there_is_no_main(smtp_server, always_open,
                                                               account_on):
    manager = UserFactory()
    other = account_on(manager)
    vips = contacts(manager, 2)
    mark_vip(vips)
    start_mailing(manager)
    send_all()
    assert sorted(received_by_account(smtp_server)[other.from_email]) == sorted(
        c.email for c in vips)


def test_records_and_accounts_of_another_owner_are_never_used(smtp_server, always_open,
                                                              account_on):
    manager, rival = UserFactory(), UserFactory()
    own_account = account_on(manager)
    rival_account = account_on(rival)
    mine = contacts(manager, 2)
    theirs = contacts(rival, 2)
    mailing = start_mailing(manager, [Contact.objects.all()])
    assert mailing.excluded == {"not_owner": 2}
    send_all()
    by_account = received_by_account(smtp_server)
    assert list(by_account) == [own_account.from_email]
    assert sorted(by_account[own_account.from_email]) == sorted(c.email for c in mine)
    assert rival_account.from_email not in by_account
    assert not set(smtp_server.handler.recipients()) & {c.email for c in theirs}
