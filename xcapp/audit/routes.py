from datetime import datetime, timedelta

from flask import render_template, request
from jinja2_fragments.flask import render_block
from sqlalchemy import func, select

from ..core.authz import access
from ..core.models import all_units
from ..core.params import int_arg
from ..core.roles import CITY_ADMIN
from ..core.timeutil import CST
from ..extensions import db
from ..htmx import is_htmx
from . import bp
from .models import AuditLog
from .services import verify_chain

PAGE_SIZE = 50


def _parse_day(value: str | None):
    try:
        return datetime.strptime(value or "", "%Y-%m-%d")
    except ValueError:
        return None


@bp.route("/")
@access(CITY_ADMIN)
def log():
    args = request.args
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
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, int_arg(args, "page", 1) or 1), pages)
    rows = db.session.scalars(
        stmt.order_by(AuditLog.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    ctx = dict(rows=rows, total=total, page=page, pages=pages,
               units=all_units(), args=args, tz=CST)
    if is_htmx():
        return render_block("audit/log.html", "results", **ctx)
    return render_template("audit/log.html", **ctx)


@bp.route("/verify")
@access(CITY_ADMIN)
def verify():
    result = verify_chain()
    return render_template("audit/_verify.html", result=result)
