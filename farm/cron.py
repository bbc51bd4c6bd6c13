"""Crontab expressions: checked once, turned into APScheduler triggers and systemd ``OnCalendar=`` lines.

A low layer (it imports only farm.errors): farm.settings checks ``[schedule]`` with it when it
reads farm.toml, and farm.schedule re-exports its names and runs the triggers.

Fire times always come from APScheduler's :class:`CronTrigger`; this module only reads the
five fields far enough to hand them over correctly and to write them for systemd. Two
crontab rules need care on the way:

* Weekday numbers: crontab counts 0 (and 7) as Sunday, APScheduler 3.x counts 0 as
  Monday (its issue 286, kept for compatibility), so ``CronTrigger.from_crontab("0 4 * * 0")``
  fires on Mondays. The weekday field is therefore handed to APScheduler as day names.
* Day of month and day of week: when both fields are restricted (neither starts with
  ``*``), cron runs the command when *either* matches; APScheduler and systemd match all
  fields at once. Such an expression becomes two triggers (APScheduler's ``OrTrigger``)
  and two ``OnCalendar=`` lines, one per alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from farm.errors import InputError

CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day-of-month": (1, 31), "month": (1, 12), "day-of-week": (0, 7)}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: 0 = Sunday
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # systemd's (and ISO's) week order
_EXAMPLE = "expected 5 fields: minute hour day-of-month month day-of-week, e.g. '0 1 * * *'"


@dataclass(frozen=True)
class _Item:
    """One comma-separated part of a field: ``*``, ``*/n``, ``v``, ``a-b`` or ``a-b/n``."""

    first: int
    last: int
    step: int = 1
    star: bool = False

    def values(self) -> range:
        return range(self.first, self.last + 1, self.step)


def _number(text: str, field: str) -> int:
    names = _MONTHS if field == "month" else _CRON_DAYS if field == "day-of-week" else ()
    low = 1 if field == "month" else 0
    if text.lower() in names:
        return names.index(text.lower()) + low
    if not text.isdigit():
        allowed = f"numbers or names ({', '.join(names)})" if names else "numbers"
        raise ValueError(f"{field} {text!r} is not a number; {field} takes {allowed}")
    low, high = _BOUNDS[field]
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field} {value} is out of range {low}-{high}")
    return value


def _parse_field(text: str, field: str) -> tuple[_Item, ...]:
    low, high = _BOUNDS[field]
    items = []
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{field} step {step_text!r} must be a whole number above 0")
            step = int(step_text)
        if body == "*":
            items.append(_Item(low, high, step, star=True))
            continue
        first_text, dash, last_text = body.partition("-")
        if not first_text or (dash and not last_text):
            raise ValueError(f"{field} {part!r} is not a value, range or step")
        first = _number(first_text, field)
        last = _number(last_text, field) if dash else first
        if slash and not dash:
            raise ValueError(f"{field} {part!r}: a step needs a range or * (e.g. '{first}-{high}/{step}')")
        if first > last:
            raise ValueError(f"{field} range {body!r} runs backwards; cron ranges do not wrap")
        items.append(_Item(first, last, step))
    return tuple(items)


@dataclass(frozen=True)
class CronExpr:
    """A checked 5-field crontab expression (this machine's time zone unless a trigger is given one).

    ``weekdays`` counts 0 as Sunday, as crontab does (7 is folded into 0).

    Example::

        CronExpr.parse("0 4 * * 0").on_calendar()   # ('Sun *-*-* 04:00:00',)
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    either_day: bool  # both day fields restricted: cron runs when one OR the other matches

    @classmethod
    def parse(cls, expr: str, *, key: str | None = None) -> CronExpr:
        """Check ``expr``; a bad one raises :class:`InputError` naming ``schedule.<key>`` and the expression."""
        where = f"schedule.{key}: " if key else ""
        if not isinstance(expr, str):
            raise InputError(f"{where}a cron expression must be a string, not {expr!r}")
        fields = expr.split()
        try:
            if len(fields) == 1 and fields[0].startswith("@"):
                raise ValueError(f"{fields[0]}: crontab's @-shortcuts are not supported, write the 5 fields")
            if len(fields) != 5:
                raise ValueError(f"{len(fields)} field{'' if len(fields) == 1 else 's'}")
            parsed = {name: _parse_field(text, name) for name, text in zip(CRON_FIELDS, fields)}
            sets = {name: frozenset(v for item in items for v in item.values()) for name, items in parsed.items()}
            weekdays = frozenset(d % 7 for d in sets["day-of-week"])
            made = cls(" ".join(fields), sets["minute"], sets["hour"], sets["day-of-month"], sets["month"], weekdays,
                       either_day=not fields[2].startswith("*") and not fields[4].startswith("*"))
            made.trigger(timezone="UTC")  # the library's own check of what it will run
        except ValueError as err:
            raise InputError(f"{where}invalid cron expression {expr!r} ({err}); {_EXAMPLE}") from None
        return made

    @property
    def _fields(self) -> list[str]:
        return self.expr.split()

    def trigger(self, *, timezone: tzinfo | str | None) -> BaseTrigger:
        """The APScheduler trigger that fires when cron would run this line (``timezone``
        None: this machine's)."""
        minute, hour, day, month, _ = self._fields
        names = ",".join(_CRON_DAYS[d] for d in sorted(self.weekdays))  # names: APScheduler's 0 is Monday
        if not self.either_day:
            return CronTrigger(month=month, day=day, day_of_week=names, hour=hour, minute=minute, timezone=timezone)
        return OrTrigger([
            CronTrigger(month=month, day=day, hour=hour, minute=minute, timezone=timezone),
            CronTrigger(month=month, day_of_week=names, hour=hour, minute=minute, timezone=timezone),
        ])

    def on_calendar(self) -> tuple[str, ...]:
        """systemd ``OnCalendar=`` values that elapse when cron would run this line: one,
        or two when cron ORs the day fields (a timer elapses when any of its lines does)."""
        minute, hour, day, month, weekday = (_parse_field(t, n) for n, t in zip(CRON_FIELDS, self._fields))
        clock = f"{_systemd_field(hour)}:{_systemd_field(minute)}:00"
        month_text = _systemd_field(month)
        days = _systemd_days(self.weekdays) if not all(i.star and i.step == 1 for i in weekday) else ""
        if self.either_day:
            return (f"*-{month_text}-{_systemd_field(day)} {clock}", f"{days} *-{month_text}-* {clock}")
        return ((f"{days} " if days else "") + f"*-{month_text}-{_systemd_field(day)} {clock}",)


def _systemd_field(items: tuple[_Item, ...]) -> str:
    parts = []
    for item in items:
        if item.star:
            parts.append("*" if item.step == 1 else f"{item.first:02d}/{item.step}")
        elif item.first == item.last:
            parts.append(f"{item.first:02d}")
        elif item.step == 1:
            parts.append(f"{item.first:02d}..{item.last:02d}")
        else:  # a stepped range as its values: every systemd release reads a list
            parts.extend(f"{v:02d}" for v in item.values())
    return ",".join(parts)


def _systemd_days(weekdays: frozenset[int]) -> str:
    order = sorted((d - 1) % 7 for d in weekdays)  # crontab's Sunday-first -> systemd's Monday-first
    runs: list[list[int]] = []
    for d in order:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_SYSTEMD_DAYS[run[0]]}..{_SYSTEMD_DAYS[run[-1]]}")
        else:
            parts.extend(_SYSTEMD_DAYS[d] for d in run)
    return ",".join(parts)


def parse_cron(expr: str, *, key: str | None = None) -> CronExpr:
    """:meth:`CronExpr.parse`: check a crontab expression (errors name ``schedule.<key>``)."""
    return CronExpr.parse(expr, key=key)


def cron_to_oncalendar(expr: str) -> tuple[str, ...]:
    """The systemd ``OnCalendar=`` values for a crontab expression.

    Example::

        cron_to_oncalendar("*/5 * * * *")   # ('*-*-* *:00/5:00',)
        cron_to_oncalendar("0 0 1 * mon")   # ('*-*-01 00:00:00', 'Mon *-*-* 00:00:00'): cron's OR
    """
    return CronExpr.parse(expr).on_calendar()


def next_fire_time(trigger: BaseTrigger, *, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (an aware datetime)."""
    return trigger.get_next_fire_time(None, after + timedelta(microseconds=1))


_LOOK_BACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367),
              timedelta(days=3700))


def latest_fire_time(trigger: BaseTrigger, *, after: datetime, until: datetime) -> datetime | None:
    """The last fire time in (``after``, ``until``], or None when there is none.

    Looks back from ``until`` in growing windows, so a long downtime of a every-5-minutes
    task walks a few dozen fire times, not a year of them.
    """
    for span in (*_LOOK_BACK, None):
        start = after if span is None or until - span <= after else until - span
        found = None
        t = next_fire_time(trigger, after=start)
        while t is not None and t <= until:
            found = t
            t = next_fire_time(trigger, after=t)
        if found is not None or start == after:
            return found
    return None
