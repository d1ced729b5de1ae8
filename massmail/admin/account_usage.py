"""How much each account of an admin page sent in its limit windows, in one query.

``sending.limits.usage`` answers for one account; a list of 50 accounts (or the "why not
sending" of 50 mailings) would ask 50 times. This counts the same way, over the engine's
own windows (``limits.windows``), for every account of the page at once.
"""

from django.db.models import Count, Q

from ..models import Delivery
from ..sending import limits

LENGTHS = (limits.DAY, limits.HOUR, limits.MINUTE)


def usage_by_account(accounts, settings, now):
    """{account id: [(window length, limit, used)]} for each limit the account has; rows
    claimed but not attempted yet count as used now, as in ``limits.usage``."""
    if not accounts:
        return {}
    claimed = Q(status=Delivery.Status.CLAIMED)
    rows = (
        Delivery.objects.filter(Q(attempted_at__gte=now - limits.DAY) | claimed, account__in=accounts)
        .order_by().values("account_id")
        .annotate(claimed=Count("id", filter=claimed), **{
            f"used{index}": Count("id", filter=Q(attempted_at__gte=now - length) & ~claimed)
            for index, length in enumerate(LENGTHS)})
    )
    used = {row["account_id"]: row for row in rows}
    result = {}
    for account in accounts:
        row = used.get(account.pk)
        result[account.pk] = [
            (length, limit, row[f"used{LENGTHS.index(length)}"] + row["claimed"] if row else 0)
            for length, limit in limits.windows(account, settings)
        ]
    return result


def remaining(usage):
    """Emails an account may still send now, from its entry of ``usage_by_account``."""
    return max(0, min(limit - used for _length, limit, used in usage))
