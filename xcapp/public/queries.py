"""Read-side queries of the public pages: a plan's draw receipt and a sealed record."""
from __future__ import annotations

from sqlalchemy import select

from ..core.models import Unit
from ..extensions import db
from ..inspections.models import Inspection
from ..plans.models import EnterpriseDraw, InspectorDraw, Plan, PopulationMember, Replacement, Task
from ..plans.sampling import RISK_ORDER
from ..plans.vocab import PlanState
from ..registry.models import Enterprise


def public_plan(plan_id: int) -> Plan | None:
    """The plan, once its population is frozen (a draft is not public)."""
    plan = db.session.get(Plan, plan_id)
    return None if plan is None or plan.state == PlanState.DRAFT else plan


def receipt(plan: Plan) -> dict:
    """What the draw receipt shows: the frozen population per unit and class, every
    enterprise draw (the current one with the names of the drawn), the tasks, the
    officer draws and the replacements."""
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    per_unit: dict[str, dict[str, int]] = {}
    for unit_code, risk in db.session.execute(select(PopulationMember.unit_code, PopulationMember.risk)
                                              .where(PopulationMember.plan_id == plan.id)):
        per_unit.setdefault(unit_code, dict.fromkeys(RISK_ORDER, 0))[risk] += 1
    draws = db.session.scalars(select(EnterpriseDraw).where(EnterpriseDraw.plan_id == plan.id)
                               .order_by(EnterpriseDraw.version)).all()
    current = next((d for d in draws if not d.superseded), None)
    selected = []
    if current is not None:
        names = dict(db.session.execute(select(Enterprise.uscc, Enterprise.name)
                                        .where(Enterprise.uscc.in_(current.selected))).all())
        units_of = dict(db.session.execute(select(PopulationMember.uscc, PopulationMember.unit_code)
                                           .where(PopulationMember.plan_id == plan.id,
                                                  PopulationMember.uscc.in_(current.selected))).all())
        selected = [(uscc, names.get(uscc, ""), units[units_of[uscc]].name) for uscc in current.selected]
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.code)).all()
    officer_draws = db.session.scalars(select(InspectorDraw).where(InspectorDraw.plan_id == plan.id)
                                       .order_by(InspectorDraw.id)).all()
    replacements = db.session.scalars(select(Replacement).join(Task, Task.id == Replacement.task_id)
                                      .where(Task.plan_id == plan.id).order_by(Replacement.id)).all()
    return dict(per_unit=per_unit, units=units, draws=draws, current=current, selected=selected, tasks=tasks,
                officer_draws=officer_draws, replacements=replacements)


def sealed_record(seal: str) -> Inspection | None:
    """The one inspection whose seal begins with ``seal`` (None when none or several do)."""
    found = db.session.scalars(select(Inspection).where(Inspection.seal_hash.startswith(seal))).unique().all()
    return found[0] if len(found) == 1 else None
