"""Valid values of Massmail Settings, and what a row saved before they were checked falls
back to.

The form refuses a bad time zone or weekday, but a row may already hold one (saved by an
older version, by a script, by hand in the database). Such a value must never break a
page or stop the engine, so it is repaired when the row is read (``MassmailSettings.
from_db``), with a warning in the log, and every reader, the engine included, sees a
usable value. Saving the settings page then stores the repaired value.
"""

import functools
import logging
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("massmail")

FALLBACK_TIME_ZONE = "UTC"
WEEKDAY_NUMBERS = range(7)  # 0 = Monday, as datetime.weekday()


@functools.cache
def time_zone_names():
    """Every IANA time zone name this Python knows, sorted."""
    return sorted(zoneinfo.available_timezones())


def is_time_zone(name):
    return name in set(time_zone_names())


def validate_time_zone(value):
    if not is_time_zone(value):
        raise ValidationError(
            _("“%(value)s” is not a time zone. Choose one such as Europe/Berlin."),
            code="invalid_time_zone", params={"value": value})


def validate_weekdays(value):
    if not isinstance(value, list) or any(
            isinstance(day, bool) or day not in WEEKDAY_NUMBERS for day in value):
        raise ValidationError(_("Working days must be weekday numbers from 0 (Monday) to 6 (Sunday)."),
                              code="invalid_weekdays")


def repaired_time_zone(value):
    """``value`` when it is a time zone, else UTC (logged)."""
    if isinstance(value, str) and is_time_zone(value):
        return value
    logger.warning("Massmail Settings: %r is not a time zone; using %s until a superuser "
                   "corrects it in the admin.", value, FALLBACK_TIME_ZONE)
    return FALLBACK_TIME_ZONE


def repaired_weekdays(value):
    """The valid weekday numbers of ``value``, sorted and distinct (logged when any
    were dropped)."""
    days = value if isinstance(value, list) else []
    valid = sorted({day for day in days if not isinstance(day, bool) and day in WEEKDAY_NUMBERS})
    if len(valid) != len(days):
        logger.warning("Massmail Settings: working days %r are not all weekday numbers "
                       "0-6; using %r.", value, valid)
    return valid
