"""Read-side queries of the registry lists (filters, search, pagination)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select

from ..core.authz import scoped
from ..core.models import Unit
from ..core.params import int_arg
from ..core.text import normalize_text
from ..core.timeutil import local_today
from ..extensions import db
from .models import EXPIRY_WARNING_DAYS, Enterprise, ImportBatch, Officer, Recusal
from .vocab import LICENCE_EXPIRED, LicenceState

PAGE_SIZE = 30


@dataclass
class Page:
    items: list
    total: int
    page: int
    pages: int


def paginate(stmt, page: int, order_by) -> Page:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    items = db.session.scalars(stmt.order_by(*order_by).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique().all()
    return Page(items, total, page, pages)


def enterprise_filter(args) -> "select":
    stmt = scoped(select(Enterprise), Enterprise)
    q = normalize_text(args.get("q"))
    if q:
        code = q.upper().replace(" ", "")
        stmt = stmt.where(or_(Enterprise.name.contains(q, autoescape=True),
                              Enterprise.uscc.contains(code, autoescape=True),
                              Enterprise.licence_no.contains(code, autoescape=True)))
    if args.get("unit"):
        stmt = stmt.join(Unit, Unit.id == Enterprise.unit_id).where(Unit.code == args["unit"])
    category = int_arg(args, "category")   # a number no id column holds, or "²", filters nothing
    if category is not None:
        stmt = stmt.where(Enterprise.category_id == category)
    if args.get("risk"):
        stmt = stmt.where(Enterprise.risk == args["risk"])
    if args.get("production_state"):
        stmt = stmt.where(Enterprise.production_state == args["production_state"])
    today = local_today()
    state = args.get("licence_state")
    if state == LICENCE_EXPIRED:
        stmt = stmt.where(Enterprise.licence_state == LicenceState.VALID, Enterprise.expiry_date < today)
    elif state == LicenceState.VALID:
        stmt = stmt.where(Enterprise.licence_state == LicenceState.VALID, Enterprise.expiry_date >= today)
    elif state:
        stmt = stmt.where(Enterprise.licence_state == state)
    warning = args.get("expiry")
    if warning == "soon":
        stmt = stmt.where(Enterprise.licence_state == LicenceState.VALID, Enterprise.expiry_date >= today,
                          Enterprise.expiry_date <= today + timedelta(days=EXPIRY_WARNING_DAYS))
    elif warning == "expired":
        stmt = stmt.where(Enterprise.licence_state == LicenceState.VALID, Enterprise.expiry_date < today)
    return stmt


def officer_filter(args):
    stmt = scoped(select(Officer), Officer)
    q = normalize_text(args.get("q"))
    if q:
        stmt = stmt.where(or_(Officer.name.contains(q, autoescape=True),
                              Officer.cert_no.contains(q.upper(), autoescape=True),
                              Officer.cert_no.contains(q, autoescape=True)))
    if args.get("unit"):
        stmt = stmt.join(Unit, Unit.id == Officer.unit_id).where(Unit.code == args["unit"])
    if args.get("status"):
        stmt = stmt.where(Officer.status == args["status"])
    category = int_arg(args, "category")   # a number no id column holds, or "²", filters nothing
    if category is not None:
        stmt = stmt.where(Officer.specialty_id == category)
    return stmt


def enterprise_recusals(enterprise: Enterprise) -> list[Recusal]:
    """The recusals declared for an enterprise, the latest first."""
    return db.session.scalars(select(Recusal).where(Recusal.enterprise_id == enterprise.id)
                              .order_by(Recusal.declared_on.desc())).all()


def officer_recusals(officer: Officer) -> list[Recusal]:
    """The recusals an officer declared, the latest first."""
    return db.session.scalars(select(Recusal).where(Recusal.officer_id == officer.id)
                              .order_by(Recusal.declared_on.desc())).all()


def unit_officers(unit_id: int) -> list[Officer]:
    """The officers of one unit, by name."""
    return db.session.scalars(select(Officer).where(Officer.unit_id == unit_id).order_by(Officer.name)).all()


def enterprise_by_uscc(uscc: str) -> Enterprise | None:
    return db.session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))


def recent_imports(user, limit: int = 10) -> list[ImportBatch]:
    """The user's own latest import batches."""
    return db.session.scalars(select(ImportBatch).where(ImportBatch.user_id == user.id)
                              .order_by(ImportBatch.id.desc()).limit(limit)).all()
