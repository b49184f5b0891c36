from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..core.authz import STAFF_ROLES, access
from ..core.timeutil import local_today
from ..extensions import db
from ..inspections import rules
from ..plans.models import DRAFT, Plan
from . import bp
from .services import METRICS, facts, totals, unit_rows


def _plan():
    plans = db.session.scalars(select(Plan).where(Plan.state != DRAFT).order_by(Plan.year.desc(), Plan.id.desc())).all()
    wanted = request.args.get("plan", type=int)
    plan = next((p for p in plans if p.id == wanted), plans[0] if plans else None)
    return plans, plan


@bp.route("/")
@access(*STAFF_ROLES)
def dashboard():
    plans, plan = _plan()
    if plan is None:
        return render_template("oversight/dashboard.html", plans=[], plan=None)
    items = facts(plan, current_user)
    rows = unit_rows(items)
    return render_template("oversight/dashboard.html", plans=plans, plan=plan, rows=rows, total=totals(rows),
                           metrics=METRICS, reasons=rules.NOT_INSPECTED_REASON_LABELS,
                           days_left=(plan.deadline - local_today()).days)


@bp.route("/list")
@access(*STAFF_ROLES)
def task_list():
    """The tasks behind one figure of the dashboard."""
    plans, plan = _plan()
    metric = request.args.get("metric", "drawn")
    if plan is None or metric not in METRICS:
        abort(404)
    unit = request.args.get("unit")
    items = [i for i in facts(plan, current_user) if metric in i.metrics and (not unit or i.task.unit.code == unit)]
    return render_template("oversight/list.html", plan=plan, items=items, metric=metric, label=METRICS[metric],
                           unit=unit)
