"""Per-account sending limits over rolling windows, across all mailings and workers.

Every SMTP attempt of a delivery counts at its ``attempted_at`` (earlier attempts of rows
tried again are kept as EarlierAttempt rows), and rows claimed but not yet attempted
count as used now. Claims take the budget under a lock on the account
row (see claims.py), so concurrent workers together never exceed a limit.
"""

import datetime

from django.db.models import Count, Min, Q

from ..models import Delivery, EarlierAttempt

DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def windows(account, settings):
    """(length, limit) of each limit the account has."""
    limits = [(DAY, account.effective_daily_limit(settings))]
    if account.hourly_limit is not None:
        limits.append((HOUR, account.hourly_limit))
    if account.minute_limit is not None:
        limits.append((MINUTE, account.minute_limit))
    return limits


def usage(account, now, settings):
    """[(length, limit, used, oldest attempt in window)] for each of the account's limits."""
    limits = windows(account, settings)
    claimed = Q(status=Delivery.Status.CLAIMED)
    aggregates = {"claimed": Count("id", filter=claimed)}
    for index, (length, _limit) in enumerate(limits):
        recent = Q(attempted_at__gte=now - length)
        aggregates[f"used{index}"] = Count("id", filter=recent & ~claimed)
        aggregates[f"oldest{index}"] = Min("attempted_at", filter=recent & ~claimed)
    row = Delivery.objects.filter(
        Q(attempted_at__gte=now - DAY) | claimed, account=account
    ).aggregate(**aggregates)
    earlier = EarlierAttempt.objects.filter(account=account, attempted_at__gte=now - DAY)
    if earlier.exists():
        counted = earlier.aggregate(**{
            f"used{index}": Count("id", filter=Q(attempted_at__gte=now - length))
            for index, (length, _limit) in enumerate(limits)})
        for key, value in counted.items():
            row[key] += value
    return [
        (length, limit, row[f"used{index}"] + row["claimed"], row[f"oldest{index}"])
        for index, (length, limit) in enumerate(limits)
    ]


def remaining(account, now, settings):
    """How many more emails the account may send right now."""
    return max(0, min(limit - used for _length, limit, used, _oldest in usage(account, now, settings)))


def available_again_at(account, now, settings):
    """When some budget frees up again, for an account that has none left now."""
    times = [
        oldest + length
        for length, limit, used, oldest in usage(account, now, settings)
        if used >= limit and oldest is not None
    ]
    return max(times) if times else now
