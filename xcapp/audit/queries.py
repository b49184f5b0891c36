"""Read-side queries of the audit log screen: the filtered log, a page at a time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ..core.params import int_arg
from ..extensions import db
from .models import AuditLog

PAGE_SIZE = 50


@dataclass
class Page:
    rows: list[AuditLog]
    total: int
    page: int
    pages: int


def _parse_day(value: str | None):
    try:
        return datetime.strptime(value or "", "%Y-%m-%d")
    except ValueError:
        return None


def log_filter(args):
    """The audit log entries the request's filters (action, user, unit, object, days) keep."""
    stmt = select(AuditLog)
    if args.get("action"):
        stmt = stmt.where(AuditLog.action.contains(args["action"].strip()))
    if args.get("username"):
        stmt = stmt.where(AuditLog.username == args["username"].strip())
    if args.get("unit"):
        stmt = stmt.where(AuditLog.unit_code == args["unit"])
    if args.get("object_type"):
        stmt = stmt.where(AuditLog.object_type == args["object_type"].strip())
    start, end = _parse_day(args.get("from")), _parse_day(args.get("to"))
    # Days are entered in China time; stored times are UTC. A bound beyond the calendar
    # (from 0001-01-01, to 9999-12-31) bounds nothing.
    if start and start.year > 1:
        stmt = stmt.where(AuditLog.at >= start - timedelta(hours=8))
    if end and end.year < 9999:
        stmt = stmt.where(AuditLog.at < end + timedelta(days=1) - timedelta(hours=8))
    return stmt


def log_page(args) -> Page:
    """One page of the filtered audit log, the latest entry first, with the total count."""
    stmt = log_filter(args)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, int_arg(args, "page", 1) or 1), pages)
    rows = db.session.scalars(
        stmt.order_by(AuditLog.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return Page(rows, total, page, pages)
