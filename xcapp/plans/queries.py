"""Read-side queries of the plan screens: the plan list, a plan's draws, units and tasks."""
from __future__ import annotations

from sqlalchemy import func, select

from ..core.authz import scoped
from ..core.models import Unit
from ..extensions import db
from .models import EnterpriseDraw, InspectorDraw, Plan, Replacement, Task
from .vocab import TaskKind


def plans_with_task_counts() -> tuple[list[Plan], dict[int, int]]:
    """Every plan, newest first, and per plan the drawn tasks the user may see."""
    plans = db.session.scalars(select(Plan).order_by(Plan.year.desc(), Plan.id.desc())).all()
    counts = dict(db.session.execute(scoped(select(Task.plan_id, func.count()).where(Task.kind == TaskKind.DRAWN), Task)
                                     .group_by(Task.plan_id)).all())
    return plans, counts


def enterprise_draws(plan: Plan) -> list[EnterpriseDraw]:
    """The plan's enterprise draws, the latest version first."""
    return db.session.scalars(select(EnterpriseDraw).where(EnterpriseDraw.plan_id == plan.id)
                              .order_by(EnterpriseDraw.version.desc())).all()


def unit_rows(plan: Plan) -> list[tuple[Unit, int, InspectorDraw | None]]:
    """Per unit: tasks, and whether its officers were drawn (scoped for county admins)."""
    # Drawn tasks only: later inspections and 复查 count for their original (oversight.facts).
    stmt = scoped(select(Task.unit_id, func.count()).where(Task.plan_id == plan.id, Task.kind == TaskKind.DRAWN),
                  Task).group_by(Task.unit_id)
    counts = dict(db.session.execute(stmt).all())
    draws = {d.unit_id: d for d in db.session.scalars(select(InspectorDraw).where(InspectorDraw.plan_id == plan.id))}
    units = db.session.scalars(select(Unit).where(Unit.id.in_(counts)).order_by(Unit.sort_order)).all()
    return [(u, counts[u.id], draws.get(u.id)) for u in units]


def plan_tasks(plan: Plan, unit_code: str | None = None) -> list[Task]:
    """The plan's tasks the user may see, by code; ``unit_code`` keeps one unit's."""
    stmt = scoped(select(Task).where(Task.plan_id == plan.id), Task)
    if unit_code:
        stmt = stmt.join(Unit, Unit.id == Task.unit_id).where(Unit.code == unit_code)
    return db.session.scalars(stmt.order_by(Task.code)).unique().all()


def replacements(task: Task) -> list[Replacement]:
    """The officer replacements of a task, in the order they were made."""
    return db.session.scalars(select(Replacement).where(Replacement.task_id == task.id)
                              .order_by(Replacement.id)).all()
