from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from ..core.authz import STAFF_ROLES, access
from ..core.timeutil import local_today
from ..extensions import db
from ..inspections import rules
from ..plans.models import DRAFT, Plan
from . import bp
from .services import METRICS, facts


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
    from ..reports.figures import summary

    s = summary(plan, current_user)     # the same figures as the summary report (one source)
    return render_template("oversight/dashboard.html", plans=plans, plan=plan, rows=s.rows, total=s.total,
                           item_counts=s.item_counts, max_item=s.max_item, outcomes=s.outcome_total,
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


@bp.route("/cases")
@access(*STAFF_ROLES)
def case_list():
    from ..core.authz import scoped
    from .followup import STATES
    from .models import FollowUpCase

    stmt = scoped(select(FollowUpCase), FollowUpCase)
    state = request.args.get("state")
    if state in STATES:
        stmt = stmt.where(FollowUpCase.state == state)
    cases = db.session.scalars(stmt.order_by(FollowUpCase.id)).unique().all()
    return render_template("oversight/cases.html", cases=cases, states=STATES, state=state)


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def case_detail(case_id: int):
    from datetime import date

    from flask import flash, redirect, url_for

    from ..core.authz import ADMIN_ROLES, can_edit_unit, get_scoped_or_404
    from . import followup
    from .models import FollowUpCase
    from .services import case_proposals, take_action

    case = get_scoped_or_404(FollowUpCase, case_id)
    if request.method == "POST":
        if current_user.role not in ADMIN_ROLES:
            abort(403)
        deadline = None
        if request.form.get("deadline"):
            try:
                deadline = date.fromisoformat(request.form["deadline"])
            except ValueError:
                flash("期限格式应为 2023-12-31", "error")
                return redirect(url_for("oversight.case_detail", case_id=case.id))
        result = request.form.get("recheck")
        try:
            take_action(case.id, request.form.get("action", ""), request.form.get("note", ""), deadline,
                        {"pass": True, "fail": False}.get(result), current_user)
            db.session.commit()
            flash("已记录。", "success")
        except followup.FollowUpError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        return redirect(url_for("oversight.case_detail", case_id=case.id))
    return render_template("oversight/case.html", case=case, actions=followup.ACTIONS, states=followup.STATES,
                           allowed=followup.allowed_actions(case.state), proposals=case_proposals(case),
                           can_edit=can_edit_unit(case.task.unit_id), reasons=rules.NOT_INSPECTED_REASON_LABELS)
