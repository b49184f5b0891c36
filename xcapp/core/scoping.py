"""Scopes that depend on later features (an inspector's tasks)."""
from sqlalchemy import false


def inspector_enterprises(stmt, model, user):
    """Enterprises of the tasks assigned to ``user``; replaced once tasks exist."""
    try:
        from ..plans.models import Task, TaskOfficer
        from ..registry.models import Officer
    except ImportError:
        return stmt.where(false())
    task_enterprises = (
        Task.__table__.select().with_only_columns(Task.enterprise_id)
        .join(TaskOfficer, TaskOfficer.task_id == Task.id)
        .join(Officer, Officer.id == TaskOfficer.officer_id)
        .where(Officer.user_id == user.id, TaskOfficer.active.is_(True))
    )
    return stmt.where(model.id.in_(task_enterprises))
