"""Cron expressions on a time zone's wall clock: validation and due times (plain Python; croniter does the calendar).

A schedule is five cron fields (minute hour day-of-month month day-of-week) or an alias (``@hourly``, ``@daily``,
``@weekly``, ``@monthly``, ``@yearly``), read in an IANA time zone. Due times are returned in UTC.

Daylight-saving changes follow the wall clock, as cron does:
- a due time in the hour that is skipped when clocks go forward fires at the first minute after the gap (a daily
  ``30 2 * * *`` in Europe/Berlin fires at 03:00 on that day);
- a wall-clock time that occurs twice when clocks go back fires once, at its first occurrence.
A schedule that must keep exact intervals across DST changes should use ``UTC``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from trainforge.errors import InvalidInput

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MAX_EXPRESSION_CHARS = 120
# Region/City names, plus UTC and the Etc/ zones; no dots, so a name can never climb out of the zoneinfo directory.
_ZONE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,2}$")
# croniter's hashed (H) and random (R) fields would give each caller a different schedule: refused.
_HASHED_OR_RANDOM = re.compile(r"(?<![A-Za-z])[HhRr](?![A-Za-z])")
# "CRON_TZ=Europe/Berlin 0 3 * * *": the cronie/robfig convention for a zone inside one string.
_ZONE_PREFIX = re.compile(r"^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$")
# Counting missed due times one by one is linear; past this many the count is a lower bound.
MAX_COUNTED_MISSES = 1000
CRON_RULE = "five fields (minute hour day-of-month month day-of-week) or one of " + ", ".join(ALIASES)


@dataclass(frozen=True)
class CronSchedule:
    """A validated cron expression and the time zone it is read in. Build it with :meth:`parse`."""

    expression: str
    timezone: str = "UTC"

    @classmethod
    def parse(
        cls, expression: str, timezone: str = "UTC", *, cron_field: str = "cron", timezone_field: str = "timezone"
    ) -> CronSchedule:
        """Check ``expression`` and ``timezone``.

        Raises:
            InvalidInput: naming ``cron_field`` or ``timezone_field``.
        """
        schedule = cls(normalise_expression(expression, field=cron_field), check_timezone(timezone, timezone_field))
        try:
            schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            raise InvalidInput(f"cron expression {expression!r} never fires: {error}", field=cron_field) from None
        return schedule

    @classmethod
    def from_text(cls, text: str, *, field: str = "schedule") -> CronSchedule:
        """Parse ``"0 3 * * *"``, ``"@daily"`` or ``"CRON_TZ=Europe/Berlin 0 3 * * *"`` (the zone defaults to UTC)."""
        if not isinstance(text, str):
            raise InvalidInput(f"{field} must be a cron expression: {CRON_RULE}", field=field)
        prefixed = _ZONE_PREFIX.match(text.strip())
        if prefixed:
            return cls.parse(prefixed.group(2), prefixed.group(1), cron_field=field, timezone_field=field)
        return cls.parse(text, cron_field=field, timezone_field=field)

    @property
    def text(self) -> str:
        """The one-string form that :meth:`from_text` reads back."""
        return self.expression if self.timezone == "UTC" else f"CRON_TZ={self.timezone} {self.expression}"

    @property
    def fields(self) -> str:
        return ALIASES.get(self.expression, self.expression)

    def next_after(self, instant: datetime) -> datetime:
        """The first due time strictly after ``instant`` (an aware datetime), in UTC."""
        return next(self._due_times(instant))

    def catch_up(self, due: datetime, now: datetime) -> tuple[int, datetime]:
        """For a schedule due at ``due`` and fired at ``now``: how many later due times up to ``now`` were missed (to
        coalesce into this firing; at most :data:`MAX_COUNTED_MISSES`), and the next due time after ``now``."""
        missed = 0
        for upcoming in self._due_times(due):
            if upcoming > now:
                return missed, upcoming
            missed += 1
            if missed >= MAX_COUNTED_MISSES:
                break
        return missed, self.next_after(now)

    def _due_times(self, instant: datetime) -> Iterator[datetime]:
        if instant.tzinfo is None:
            raise ValueError("naive datetime given to a schedule; use an aware UTC datetime")
        zone = ZoneInfo(self.timezone)
        times = croniter(self.fields, instant.astimezone(zone))
        while True:
            due = times.get_next(datetime)
            if not _is_second_occurrence(due, zone):
                yield due.astimezone(UTC)


def normalise_expression(expression: str, *, field: str = "cron") -> str:
    """An alias in lower case, or five fields separated by single spaces.

    Raises:
        InvalidInput: not a five-field expression or an alias, or one that croniter refuses.
    """
    if not isinstance(expression, str) or len(expression) > MAX_EXPRESSION_CHARS:
        raise InvalidInput(f"{field} must be at most {MAX_EXPRESSION_CHARS} characters: {CRON_RULE}", field=field)
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidInput(f"unknown cron alias {text!r}; use {CRON_RULE}", field=field)
        return text.lower()
    if len(text.split(" ")) != 5:
        raise InvalidInput(f"{field} {expression!r} is not a cron expression: use {CRON_RULE}", field=field)
    if _HASHED_OR_RANDOM.search(text):
        raise InvalidInput(f"{field} {expression!r}: hashed (H) and random (R) fields are not supported", field=field)
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:  # croniter's errors are ValueErrors
        raise InvalidInput(f"invalid cron expression {expression!r}: {error}", field=field) from None
    return text


def check_timezone(name: str, field: str = "timezone") -> str:
    """Return ``name`` if it is an IANA time zone this machine knows, else raise :class:`InvalidInput`."""
    if not isinstance(name, str) or not _ZONE_PATTERN.fullmatch(name):
        raise InvalidInput(f"{field}: {name!r} is not an IANA time zone name such as 'Europe/Berlin'", field=field)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(f"{field}: unknown time zone {name!r}; use an IANA name like 'UTC'", field=field) from None
    return name


def _is_second_occurrence(moment: datetime, zone: ZoneInfo) -> bool:
    # A wall-clock time repeated when clocks go back: the same local time, taken at its first occurrence, is earlier.
    first = moment.replace(tzinfo=None).replace(tzinfo=zone, fold=0)
    return first.astimezone(UTC) < moment.astimezone(UTC)
