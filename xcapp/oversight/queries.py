"""Read-side queries of the oversight screens: the plans on the dashboard, the follow-up
cases, a case's later tasks and a task's case. Scoped where a list is shown."""
from __future__ import annotations

from sqlalchemy import select

from ..core.authz import scoped
from ..extensions import db
from ..plans.models import Plan, Task
from ..plans.vocab import PlanState
from .models import FollowUpCase
from .vocab import CaseState


def dashboard_plans() -> list[Plan]:
    """The plans past their draft, newest first."""
    return db.session.scalars(select(Plan).where(Plan.state != PlanState.DRAFT)
                              .order_by(Plan.year.desc(), Plan.id.desc())).all()


def cases(state: str | None = None) -> list[FollowUpCase]:
    """The follow-up cases the user may see, by id; a known ``state`` keeps those in it."""
    stmt = scoped(select(FollowUpCase), FollowUpCase)
    if state in CaseState.labels():
        stmt = stmt.where(FollowUpCase.state == state)
    return db.session.scalars(stmt.order_by(FollowUpCase.id)).unique().all()


def later_tasks(case: FollowUpCase) -> list[Task]:
    """The tasks that follow up the case's task (后续检查, 复查), in the order they were made."""
    return db.session.scalars(select(Task).where(Task.origin_task_id == case.task_id).order_by(Task.id)).all()


def case_of(task: Task) -> FollowUpCase | None:
    """The follow-up case opened on a task, if any."""
    return db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.id))
