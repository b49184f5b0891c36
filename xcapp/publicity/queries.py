"""Read-side queries of the publicity screens: the workday calendar's overrides and years."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import WorkdayOverride, WorkdayYear


def workday_overrides() -> list[WorkdayOverride]:
    """Every holiday or make-up workday override, the latest day first."""
    return db.session.scalars(select(WorkdayOverride).order_by(WorkdayOverride.day.desc())).all()


def workday_years() -> list[WorkdayYear]:
    """The years of the calendar and whether each is complete, by year."""
    return db.session.scalars(select(WorkdayYear).order_by(WorkdayYear.year)).all()
