"""Oversight: completion and publication per unit against the 100 % target."""
from flask import Blueprint

bp = Blueprint("oversight", __name__, url_prefix="/oversight")

from . import routes  # noqa: E402,F401


@bp.record_once
def _connect_signals(_state) -> None:
    """Oversight follows events of the features below it (see core/signals.py)."""
    from ..core.signals import follow_up_outcomes, inspection_approved
    from .services import case_outcomes, on_inspection_approved

    inspection_approved.connect(on_inspection_approved)
    follow_up_outcomes.connect(case_outcomes)


@bp.app_template_global("enterprise_inspections")
def _enterprise_inspections(enterprise_id: int):
    """Every inspection of an enterprise across plans and years, for the registry's page
    (the registry sits below plans and cannot ask for them itself)."""
    from flask_login import current_user

    from .services import enterprise_inspections

    return enterprise_inspections(enterprise_id, current_user)


@bp.app_template_global("self_report_of")
def _self_report_of(task_id: int):
    """The enterprise's 自查报告 of a task, for the task page (plans sits below inspections)."""
    from ..extensions import db
    from ..inspections.models import SelfReport

    return db.session.get(SelfReport, task_id)
