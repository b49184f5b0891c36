"""Scopes that cross features: what an inspector may see of the registry."""


def inspector_enterprises(stmt, model, user):
    """Enterprises of the tasks assigned to ``user`` (as an active officer)."""
    from ..extensions import db
    from ..plans.models import Task, TaskOfficer
    from ..registry.models import Officer

    task_enterprises = (
        db.select(Task.enterprise_id)
        .join(TaskOfficer, TaskOfficer.task_id == Task.id)
        .join(Officer, Officer.id == TaskOfficer.officer_id)
        .where(Officer.user_id == user.id, TaskOfficer.active.is_(True))
    )
    return stmt.where(model.id.in_(task_enterprises))
