"""Which of the owner's accounts sends to which recipient.

- VIP recipients go through the owner's main account while it is usable.
- Everybody else goes through the owner's other mailing accounts, never the main one.
  (VIP recipients too, while there is no usable main account.)
- A recipient sticks to one account (Recipient.account), the same sender in every
  mailing, while that account is usable; otherwise they get a new one, spread evenly.

Routing writes the account onto pending deliveries in a few set-based UPDATEs per
mailing (new recipients are spread over the accounts by their id), so planning costs
about the same for 10 or 100,000 recipients. Rows that no usable account may send wait
with their account unset (or stale) and are not claimed.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Mod
from django.db.models.lookups import Exact

from ..models import Delivery, Recipient
from .eligibility import split


def non_vip_waiting(mailing):
    """Pending non-VIP rows: they wait while the main account is the only usable one."""
    return mailing.deliveries.filter(status=Delivery.Status.PENDING, recipient__vip=False).count()


def route(mailing, accounts):
    """Assign an account to every pending delivery of ``mailing`` that needs one.

    One routing at a time per owner: concurrent dispatchers would otherwise update the
    same Recipient rows (shared by the owner's mailings) in different orders.
    """
    with transaction.atomic():
        list(get_user_model()._default_manager.select_for_update()
             .filter(pk=mailing.owner_id).values_list("pk"))
        _route(mailing, accounts)


def _route(mailing, accounts):
    main, others = split(accounts)
    pending = Delivery.objects.filter(mailing=mailing, status=Delivery.Status.PENDING)
    vip = Q(recipient__vip=True)
    if main:
        pending.filter(vip).exclude(account=main).update(account=main)
        Recipient.objects.filter(
            vip=True, deliveries__mailing=mailing, deliveries__status=Delivery.Status.PENDING
        ).exclude(account=main).update(account=main)
        rest = pending.exclude(vip)
    else:
        rest = pending
    if not others:
        # Nobody else can send: park rows on unusable accounts so they are not claimed.
        rest.exclude(account__isnull=True).update(account=None)
        return
    # New or stranded recipients: one of the others each, spread by id, kept for later.
    spread = Case(*[When(Exact(Mod("id", len(others)), index), then=Value(account.pk))
                    for index, account in enumerate(others)])
    Recipient.objects.filter(pk__in=rest.values("recipient_id")).exclude(
        account__in=others).update(account=spread)
    # Sticky: every row goes through its recipient's account.
    sticky = Recipient.objects.filter(pk=OuterRef("recipient_id")).values("account_id")[:1]
    rest.filter(recipient__account__in=others).exclude(
        account=Subquery(sticky)
    ).update(account=Subquery(sticky))
