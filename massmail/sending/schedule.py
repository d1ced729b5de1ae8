"""Working hours: when mailings may send, in MassmailSettings.time_zone."""

import datetime
import zoneinfo


def zone(settings):
    return zoneinfo.ZoneInfo(settings.time_zone)


def _local(now, settings):
    return now.astimezone(zone(settings))


def _at(local_day, time_of_day, tz):
    return datetime.datetime.combine(local_day, time_of_day, tzinfo=tz)


def window_end(now, settings):
    """End of the sending window ``now`` is in, or None when sending is closed now.

    With working hours off the window never ends (datetime.max in UTC).
    """
    if not settings.use_business_time:
        return datetime.datetime.max.replace(tzinfo=datetime.UTC)
    local = _local(now, settings)
    if local.weekday() not in settings.business_days:
        return None
    start = _at(local.date(), settings.business_time_start, local.tzinfo)
    end = _at(local.date(), settings.business_time_end, local.tzinfo)
    if start <= local < end:
        return end
    return None


def next_opening(now, settings):
    """When the window opens next (``now`` if it is open); None if it never does."""
    if window_end(now, settings) is not None:
        return now
    if not settings.business_days:
        return None
    local = _local(now, settings)
    for days in range(8):
        day = local.date() + datetime.timedelta(days=days)
        start = _at(day, settings.business_time_start, local.tzinfo)
        if day.weekday() in settings.business_days and start > local:
            return start
    return None
