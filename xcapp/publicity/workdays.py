"""Working-day arithmetic for the publication deadline (20 工作日 after the inspection).

Pure module: no Flask, no database.  The caller loads the admin-editable override
table (date -> 班/休, entered from the State Council notice each November) and
passes it in.

Lookup order in ``WorkdayCalendar.is_workday(d)``:

1. ``overrides[d]`` if present (True = 班 working day, False = 休 day off);
2. the ``chinesecalendar`` library, if it knows ``d.year`` (1.11.0: 2004-2026);
3. if ``d.year`` is in ``covered_years``: Monday-Friday are working days;
4. otherwise ``CalendarUnknown(d.year)`` — never guess a legal deadline.

A year counts as covered by the override table only when it is listed explicitly in
``covered_years`` (the admin's statement "this year's notice is fully entered"):
a few override rows for a year do not make its other dates knowable, because the
absent rows could be either unentered holidays or ordinary days.

Counting: ``add_workdays(start, n)`` is the n-th working day AFTER ``start``
(``start`` itself never counts, whether or not it is a working day);
``workdays_between(a, b)`` counts working days in ``(a, b]``, so
``add_workdays(a, workdays_between(a, b)) == b`` whenever ``b`` is a working day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar

PUBLICATION_DEADLINE_WORKDAYS = 20  # seed 六(二): 20个工作日内公示

_DEFAULT = object()

_WORK_WORDS = {"班", "上班", "work", "workday", "1", "true", "True"}
_REST_WORDS = {"休", "放假", "rest", "holiday", "0", "false", "False"}


class CalendarUnknown(LookupError):
    """Neither the override table nor the library knows the holidays of ``year``."""

    def __init__(self, year: int):
        self.year = year
        super().__init__(f"{year}年节假日安排未知，期限待定（请录入国务院放假通知）")


def _as_date(d: date) -> date:
    if isinstance(d, datetime):
        return d.date()
    if not isinstance(d, date):
        raise TypeError(f"date expected, got {type(d).__name__}")
    return d


def parse_day_kind(value: Any) -> bool:
    """True for a working day (班), False for a day off (休).  Accepts bools and the
    words 班/上班/work/1/true and 休/放假/rest/holiday/0/false."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text in _WORK_WORDS:
        return True
    if text in _REST_WORDS:
        return False
    raise ValueError(f"unknown day kind: {value!r} (expected 班 or 休)")


class WorkdayCalendar:
    """Working days per the State Council schedule, admin overrides first.

    ``overrides``: mapping date -> bool (True = working day) or 班/休.
    ``covered_years``: years whose override rows are complete (see module docstring).
    ``library``: callable date -> bool raising NotImplementedError for unknown years;
    default chinesecalendar; ``None`` to use overrides and covered years only.
    """

    def __init__(self, overrides: Mapping[date, Any] | None = None,
                 covered_years: Iterable[int] = (),
                 library: Callable[[date], bool] | None | object = _DEFAULT):
        self.overrides: dict[date, bool] = {
            _as_date(k): parse_day_kind(v) for k, v in (overrides or {}).items()
        }
        self.covered_years: frozenset[int] = frozenset(int(y) for y in covered_years)
        self._library = chinese_calendar.is_workday if library is _DEFAULT else library

    def _library_answer(self, d: date) -> bool | None:
        if self._library is None:
            return None
        try:
            return bool(self._library(d))
        except NotImplementedError:
            return None

    def is_workday(self, d: date) -> bool:
        d = _as_date(d)
        if d in self.overrides:
            return self.overrides[d]
        answer = self._library_answer(d)
        if answer is not None:
            return answer
        if d.year in self.covered_years:
            return d.weekday() < 5
        raise CalendarUnknown(d.year)

    def covers(self, year: int) -> bool:
        """True when every date of ``year`` can be answered."""
        if int(year) in self.covered_years:
            return True
        return self._library_answer(date(int(year), 1, 1)) is not None

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (before it for negative n; ``start``
        for n == 0).  Raises CalendarUnknown when the count enters an unknown year."""
        d = _as_date(start)
        step = 1 if n >= 0 else -1
        remaining = abs(int(n))
        while remaining:
            try:
                d += timedelta(days=step)
            except OverflowError:   # past 9999-12-31 or before 0001-01-01: no calendar knows it
                raise CalendarUnknown(d.year + step) from None
            if self.is_workday(d):
                remaining -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Number of working days in ``(a, b]``; negative when ``b < a``."""
        a, b = _as_date(a), _as_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        count = 0
        d = a
        while d < b:
            d += timedelta(days=1)
            if self.is_workday(d):
                count += 1
        return count

    def deadline_or_none(self, start: date,
                         n: int = PUBLICATION_DEADLINE_WORKDAYS) -> date | None:
        """``add_workdays(start, n)``, or None (待定) when a needed year is unknown."""
        try:
            return self.add_workdays(start, n)
        except CalendarUnknown:
            return None
