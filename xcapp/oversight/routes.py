from datetime import date

from flask import abort, render_template, request
from flask_login import current_user

from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access
from ..core.timeutil import local_today
from ..core.writes import write
from ..inspections import rules
from . import bp, queries
from .services import METRICS, facts
from .vocab import CaseKind


def _plan():
    plans = queries.dashboard_plans()
    wanted = request.args.get("plan", type=int)
    plan = next((p for p in plans if p.id == wanted), plans[0] if plans else None)
    return plans, plan


@bp.route("/")
@access(*STAFF_ROLES)
def dashboard():
    plans, plan = _plan()
    if plan is None:
        return render_template("oversight/dashboard.html", plans=[], plan=None)
    from .figures import summary

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
    state = request.args.get("state")
    return render_template("oversight/cases.html", cases=queries.cases(state), state=state)


def _form_date(name: str, label: str) -> date | None:
    """A date field of the posted form (empty: None); ValueError with the message to show."""
    value = request.form.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{label}格式应为 2023-12-31") from None


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def case_detail(case_id: int):
    from flask import flash, redirect, url_for

    from ..core.authz import ADMIN_ROLES, can_edit_unit, get_scoped_or_404
    from . import followup
    from .models import FollowUpCase
    from .services import case_proposals, take_action

    case = get_scoped_or_404(FollowUpCase, case_id)
    if request.method == "POST":
        if current_user.role not in ADMIN_ROLES:
            abort(403)
        try:
            deadline = _form_date("deadline", "期限")
            decided_on = _form_date("decided_on", "决定日期")
        except ValueError as exc:
            flash(str(exc), "error")
            return redirect(url_for("oversight.case_detail", case_id=case.id))
        result = request.form.get("recheck")
        with write(followup.FollowUpError, success="已记录。"):
            take_action(case.id, request.form.get("action", ""), request.form.get("note", ""), deadline,
                        {"pass": True, "fail": False}.get(result), current_user,
                        decision=request.form.get("decision", ""), decided_on=decided_on,
                        doc_no=request.form.get("doc_no", ""))
        return redirect(url_for("oversight.case_detail", case_id=case.id))
    from ..core.timeutil import local_today
    from ..plans.services import officer_pool
    from .services import LATER_REASONS, awaiting_decision

    can_edit = can_edit_unit(case.task.unit_id)
    pool = officer_pool(case.task.unit_id, max(local_today(), case.task.plan.deadline)) if can_edit else []
    allowed = [a for a in followup.allowed_actions(case.state)
               if a != followup.RECHECK_TASK and (a != followup.DECIDE or awaiting_decision(case))]
    return render_template("oversight/case.html", case=case, actions=followup.ACTIONS,
                           allowed=allowed, proposals=case_proposals(case), can_edit=can_edit,
                           reasons=rules.NOT_INSPECTED_REASON_LABELS, decisions=followup.DECISIONS,
                           later_tasks=queries.later_tasks(case), pool=pool, today=local_today(),
                           can_later=(case.kind == CaseKind.NOT_INSPECTED and case.inspection is not None
                                      and case.inspection.not_inspected_reason in LATER_REASONS
                                      and case.state != followup.CLOSED),
                           can_recheck=case.state == followup.RECTIFYING)


def _officers_or_draw():
    """(chosen officer ids or None, entropy): 指定 with ids, or 抽取."""
    if request.form.get("mode") == "draw":
        return None, request.form.get("entropy", "")
    ids = [int(i) for i in request.form.getlist("officer") if i.isdigit()]
    return ids or [], None


@bp.route("/cases/<int:case_id>/recheck-task", methods=["POST"])
@access(*ADMIN_ROLES)
def recheck_task(case_id: int):
    """复查 as a task: same enterprise and checklist, officers chosen or drawn."""
    from flask import flash, redirect, url_for

    from ..core.authz import get_scoped_or_404
    from ..plans.services import PlanError
    from .models import FollowUpCase
    from .services import create_recheck_task

    case = get_scoped_or_404(FollowUpCase, case_id)
    ids, entropy = _officers_or_draw()
    if ids == []:
        flash("请选择至少 2 名检查人员，或改为抽取", "error")
        return redirect(url_for("oversight.case_detail", case_id=case.id))
    with write(PlanError) as w:
        task = create_recheck_task(case.id, ids, entropy, current_user)
    if w.ok:
        flash(f"已派发复查任务 {task.code}。", "success")
    return redirect(url_for("oversight.case_detail", case_id=case.id))


@bp.route("/tasks/<int:task_id>/later", methods=["POST"])
@access(*ADMIN_ROLES)
def later_task(task_id: int):
    """后续检查 of a task that could not be inspected (停产, 转产, 无法联系)."""
    from flask import flash, redirect, url_for

    from ..core.authz import get_scoped_or_404
    from ..plans.models import Task
    from ..plans.services import PlanError
    from .services import create_later_task

    task = get_scoped_or_404(Task, task_id)
    back = request.form.get("next") == "case"
    ids, entropy = _officers_or_draw()
    target = url_for("plans.task_detail", task_id=task.id)
    if back:
        case = queries.case_of(task)
        target = url_for("oversight.case_detail", case_id=case.id) if case else target
    if ids == []:
        flash("请选择至少 2 名检查人员，或改为抽取", "error")
        return redirect(target)
    with write(PlanError) as w:
        later = create_later_task(task.id, ids, entropy, current_user)
    if w.ok:
        flash(f"已派发后续检查任务 {later.code}。", "success")
    return redirect(target)
