"""Unit tests for xcapp.publicity.workdays (pure; no app fixtures).

Expected dates come from the State Council notices (国办发明电), not from the
library under test:
- 2023 中秋节、国庆节: 9月29日至10月6日放假, 10月7日(周六)、10月8日(周日)上班;
- 2024 中秋节: 9月15日至17日放假, 9月14日(周六)上班;
        国庆节: 10月1日至7日放假, 9月29日(周日)、10月12日(周六)上班;
- 2025 国庆节、中秋节: 10月1日至8日放假, 9月28日(周日)、10月11日(周六)上班.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from xcapp.publicity.workdays import (
    PUBLICATION_DEADLINE_WORKDAYS,
    CalendarUnknown,
    WorkdayCalendar,
    parse_day_kind,
)

D = date.fromisoformat


def _span(a: str, b: str) -> set[date]:
    start, end = D(a), D(b)
    return {start + timedelta(days=i) for i in range((end - start).days + 1)}


# Complete September-November schedules of the three years, from the notices.
OFF = _span("2023-09-29", "2023-10-06") | _span("2024-09-15", "2024-09-17") \
    | _span("2024-10-01", "2024-10-07") | _span("2025-10-01", "2025-10-08")
MAKEUP = {D("2023-10-07"), D("2023-10-08"), D("2024-09-14"), D("2024-09-29"),
          D("2024-10-12"), D("2025-09-28"), D("2025-10-11")}


def reference_is_workday(d: date) -> bool:
    assert 9 <= d.month <= 11 and 2023 <= d.year <= 2025, d
    if d in OFF:
        return False
    if d in MAKEUP:
        return True
    return d.weekday() < 5


def reference_add(start: date, n: int) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        n -= reference_is_workday(d)
    return d


@pytest.fixture(scope="module")
def cal() -> WorkdayCalendar:
    return WorkdayCalendar()


def test_tech_notes_example(cal):
    assert cal.add_workdays(D("2023-09-25"), 20) == D("2023-10-27")
    assert cal.deadline_or_none(D("2023-09-25")) == D("2023-10-27")
    assert PUBLICATION_DEADLINE_WORKDAYS == 20


@pytest.mark.parametrize("day, expected", [
    # 2023
    ("2023-09-28", True), ("2023-09-29", False), ("2023-10-02", False), ("2023-10-06", False),
    ("2023-10-07", True), ("2023-10-08", True), ("2023-10-09", True), ("2023-10-14", False),
    # 2024
    ("2024-09-14", True), ("2024-09-16", False), ("2024-09-17", False), ("2024-09-28", False),
    ("2024-09-29", True), ("2024-10-01", False), ("2024-10-07", False), ("2024-10-08", True),
    ("2024-10-12", True), ("2024-10-13", False),
    # 2025
    ("2025-09-27", False), ("2025-09-28", True), ("2025-10-01", False), ("2025-10-06", False),
    ("2025-10-08", False), ("2025-10-09", True), ("2025-10-11", True), ("2025-10-12", False),
])
def test_national_day_holidays_and_makeup_days(cal, day, expected):
    assert cal.is_workday(D(day)) is expected


@pytest.mark.parametrize("start, n, expected", [
    ("2024-09-27", 1, "2024-09-29"),  # Sunday make-up day
    ("2024-09-27", 2, "2024-09-30"),
    ("2024-09-27", 3, "2024-10-08"),
    ("2024-09-27", 5, "2024-10-10"),
    ("2024-09-27", 7, "2024-10-12"),  # Saturday make-up day
    ("2024-09-27", 8, "2024-10-14"),
    ("2024-09-13", 1, "2024-09-14"),  # 中秋 make-up Saturday
    ("2024-09-13", 2, "2024-09-18"),
    ("2024-09-20", 20, "2024-10-23"),
    ("2025-09-26", 1, "2025-09-28"),
    ("2025-09-26", 4, "2025-10-09"),
    ("2025-09-26", 6, "2025-10-11"),
    ("2025-09-26", 7, "2025-10-13"),
    ("2025-09-25", 20, "2025-10-29"),
    ("2023-09-28", 1, "2023-10-07"),
    ("2023-09-28", 2, "2023-10-08"),
])
def test_add_workdays_hand_checked(cal, start, n, expected):
    assert cal.add_workdays(D(start), n) == D(expected)


@pytest.mark.parametrize("year", [2023, 2024, 2025])
def test_add_workdays_against_reference(cal, year):
    start = date(year, 9, 1)
    while start <= date(year, 10, 31):
        for n in (1, 3, 5, 10, 20):
            assert cal.add_workdays(start, n) == reference_add(start, n), (start, n)
        start += timedelta(days=1)


def test_start_day_never_counts(cal):
    # a holiday start and a working-day start one day apart give the same count base
    assert cal.add_workdays(D("2024-10-07"), 1) == D("2024-10-08")
    assert cal.add_workdays(D("2024-10-08"), 1) == D("2024-10-09")
    assert cal.add_workdays(D("2024-10-08"), 0) == D("2024-10-08")


def test_negative_and_between(cal):
    assert cal.add_workdays(D("2024-10-08"), -1) == D("2024-09-30")
    assert cal.add_workdays(D("2024-10-08"), -2) == D("2024-09-29")
    assert cal.workdays_between(D("2023-09-25"), D("2023-10-27")) == 20
    assert cal.workdays_between(D("2023-10-27"), D("2023-09-25")) == -20
    assert cal.workdays_between(D("2024-10-01"), D("2024-10-07")) == 0
    assert cal.workdays_between(D("2024-10-01"), D("2024-10-01")) == 0
    for start in (D("2024-09-20"), D("2025-09-25"), D("2023-09-30")):
        for n in range(0, 25):
            assert cal.workdays_between(start, cal.add_workdays(start, n)) == n


def test_datetime_accepted(cal):
    assert cal.add_workdays(datetime(2023, 9, 25, 16, 30), 20) == D("2023-10-27")
    with pytest.raises(TypeError):
        cal.is_workday("2023-09-25")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Overrides
# ---------------------------------------------------------------------------


def test_override_changes_result():
    # e.g. a local emergency day off entered by the admin
    cal = WorkdayCalendar({D("2023-10-27"): False})
    assert cal.add_workdays(D("2023-09-25"), 20) == D("2023-10-30")
    # an extra working Saturday
    cal = WorkdayCalendar({D("2023-10-14"): "班"})
    assert cal.is_workday(D("2023-10-14"))
    assert cal.add_workdays(D("2023-09-25"), 20) == D("2023-10-26")
    # override wins over a library make-up day
    cal = WorkdayCalendar({D("2024-10-12"): "休"})
    assert not cal.is_workday(D("2024-10-12"))
    assert cal.add_workdays(D("2024-09-27"), 7) == D("2024-10-14")


def test_override_words_and_parse_day_kind():
    cal = WorkdayCalendar({D("2023-10-27"): "休", D("2023-10-28"): "班"})
    assert cal.overrides == {D("2023-10-27"): False, D("2023-10-28"): True}
    assert parse_day_kind(True) is True and parse_day_kind("放假") is False
    with pytest.raises(ValueError):
        parse_day_kind("maybe")


# ---------------------------------------------------------------------------
# Unknown years
# ---------------------------------------------------------------------------


def test_uncovered_year_raises_and_deadline_pending(cal):
    with pytest.raises(CalendarUnknown) as exc:
        cal.is_workday(D("2027-01-04"))
    assert exc.value.year == 2027
    assert "2027" in str(exc.value)
    assert not cal.covers(2027) and cal.covers(2026)
    # 2026-12-20 + 20 working days runs into 2027
    with pytest.raises(CalendarUnknown):
        cal.add_workdays(D("2026-12-20"), 20)
    assert cal.deadline_or_none(D("2026-12-20"), 20) is None
    assert cal.deadline_or_none(D("2026-12-01"), 20) == D("2026-12-29")
    with pytest.raises(CalendarUnknown):
        cal.workdays_between(D("2026-12-30"), D("2027-01-08"))


def test_override_rows_alone_do_not_cover_a_year():
    cal = WorkdayCalendar({D("2027-01-01"): False})
    assert cal.is_workday(D("2027-01-01")) is False  # the entered row is answered
    with pytest.raises(CalendarUnknown):
        cal.is_workday(D("2027-01-04"))  # other dates stay unknown
    assert cal.deadline_or_none(D("2026-12-30"), 3) is None


def test_covered_year_uses_overrides_then_weekdays():
    cal = WorkdayCalendar({D("2027-01-01"): False}, covered_years={2027})
    assert cal.covers(2027)
    assert cal.add_workdays(D("2026-12-30"), 3) == D("2027-01-05")
    assert cal.deadline_or_none(D("2026-12-20"), 20) == D("2027-01-18")
    no_holiday = WorkdayCalendar(covered_years=[2027])
    assert no_holiday.add_workdays(D("2026-12-30"), 3) == D("2027-01-04")


def test_library_can_be_disabled():
    cal = WorkdayCalendar({D("2024-10-12"): True}, library=None)
    assert cal.is_workday(D("2024-10-12"))
    with pytest.raises(CalendarUnknown):
        cal.is_workday(D("2024-10-01"))
    assert not cal.covers(2024)


# ---------------------------------------------------------------------------
# Cross-check with the `holidays` package, only when it happens to be installed
# ---------------------------------------------------------------------------


def test_cross_check_holidays_package(cal):
    holidays = pytest.importorskip("holidays")
    for year in (2023, 2024, 2025):
        cn = holidays.country_holidays("CN", years=year)
        d = date(year, 9, 1)
        while d <= date(year, 10, 31):
            if d in cn:
                assert not cal.is_workday(d), d
            d += timedelta(days=1)
