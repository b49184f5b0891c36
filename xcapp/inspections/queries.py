"""Read-side queries of the inspection screens: the officer's tasks, a task's revisions,
the review queue. Scoped to what the user may see where a list is shown."""
from __future__ import annotations

from sqlalchemy import select

from ..core.authz import scoped
from ..extensions import db
from ..plans.models import Plan, Task
from .models import Inspection
from .vocab import InspectionState


def my_tasks() -> list[Task]:
    """The tasks the user may see (an inspector: their own), by deadline."""
    return db.session.scalars(scoped(select(Task), Task).join(Plan, Plan.id == Task.plan_id)
                              .order_by(Plan.deadline, Task.code)).unique().all()


def revisions(task: Task) -> list[Inspection]:
    return db.session.scalars(select(Inspection).where(Inspection.task_id == task.id)
                              .order_by(Inspection.revision)).all()


def revision(task: Task, number: int) -> Inspection | None:
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task.id, Inspection.revision == number))


def awaiting_review() -> list[Inspection]:
    """Submitted records the user may review, oldest submission first."""
    stmt = scoped(select(Inspection).where(Inspection.state == InspectionState.SUBMITTED), Inspection)
    return db.session.scalars(stmt.order_by(Inspection.submitted_at)).unique().all()
