"""Publication: the working-day overrides and what was published when."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.timeutil import utcnow
from ..extensions import db


class WorkdayOverride(db.Model):
    """One day of the State Council schedule entered by the city admin: 休 or 班."""

    __tablename__ = "workday_override"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WorkdayYear(db.Model):
    """A year whose schedule the overrides describe completely (weekdays work, weekends rest,
    except the override days), for years the calendar library does not know yet."""

    __tablename__ = "workday_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Publication(db.Model):
    """An inspection result exported for the national credit publicity system. The first
    export sets ``first_published_at`` (first exported); later re-exports keep it. The
    result counts as published only when an admin confirms the upload to the credit
    system, with its date (``confirmed_on``)."""

    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), unique=True)
    category: Mapped[str] = mapped_column(String(30))
    first_published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_exported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    exported_by: Mapped[str] = mapped_column(String(64), default="")
    confirmed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    confirmed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    inspection = relationship("Inspection", lazy="joined")
