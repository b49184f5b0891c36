from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access, can_edit_unit, get_scoped_or_404
from ..core.models import Unit
from ..core.roles import CITY_ADMIN, COUNTY_ADMIN, INSPECTOR
from ..core.writes import write
from ..extensions import db
from ..htmx import is_htmx
from ..registry.services import categories
from . import bp, queries
from .forms import EntropyForm, PlanForm, ReplaceForm
from .models import Plan, Task
from .sampling import DEFAULT_RATIOS
from .services import (PlanError, create_plan, default_deadline, dispatch_plan, draw_enterprises, draw_officers,
                       draw_officers_many, freeze_plan, pending_risk, preview, replace_officer,
                       units_without_officer_draw, update_plan)
from .vocab import TASK_OPEN_STATES, PlanState, RatioField

def _plan_form(plan: Plan | None = None, copy_of: Plan | None = None) -> PlanForm:
    form = PlanForm()
    form.scope.choices = [(c.name, c.name) for c in categories()]
    if request.method == "GET":
        if copy_of is not None:
            from .services import copy_plan_data

            data = copy_plan_data(copy_of)
            form.name.data, form.year.data, form.k.data = data["name"], data["year"], data["k"]
            form.deadline.data = data["deadline"].isoformat()
            form.publication_workdays.data = data["publication_workdays"]
            form.scope.data = data["scope"]
            for field in RatioField:
                getattr(form, field).data = data["ratios"][field.risk]
        elif plan is None:
            from ..core.timeutil import local_today

            year = local_today().year
            form.year.data = year
            form.k.data = 2
            form.deadline.data = default_deadline(year).isoformat()
            form.publication_workdays.data = 20
            for field in RatioField:
                getattr(form, field).data = DEFAULT_RATIOS[field.risk]
        else:
            form.code.data, form.name.data, form.year.data = plan.code, plan.name, plan.year
            form.k.data, form.deadline.data = plan.k, plan.deadline.isoformat()
            form.publication_workdays.data = plan.publication_workdays
            form.scope.data = plan.scope
            for field in RatioField:
                getattr(form, field).data = plan.ratios[field.risk]
    return form


def _raw(form: PlanForm) -> dict:
    raw = {name: request.form.get(name, "") for name in ("code", "name", "year", "k", "deadline",
                                                         "publication_workdays", *RatioField)}
    raw["scope"] = request.form.getlist("scope")
    return raw


@bp.route("/")
@access(*STAFF_ROLES)
def plan_list():
    plans, counts = queries.plans_with_task_counts()
    return render_template("plans/plan_list.html", plans=plans, task_counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@access(CITY_ADMIN)
def plan_new():
    """A new plan; ``?copy=ID`` starts from an earlier plan (same scope, ratios, k), a year later."""
    from ..core.params import int_arg

    copy_id = int_arg(request.args, "copy")   # a number no id column holds starts a blank plan
    form = _plan_form(copy_of=db.session.get(Plan, copy_id) if copy_id else None)
    if request.method == "POST" and form.validate_on_submit():
        with write(PlanError, form=form) as w:
            plan = create_plan(_raw(form), actor=current_user)
        if w.ok:
            flash(f"已创建抽查计划 {plan.code}。", "success")
            return redirect(url_for("plans.plan_detail", plan_id=plan.id))
    status = 422 if request.method == "POST" else 200
    return render_template("plans/plan_form.html", form=form, plan=None), status


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@access(CITY_ADMIN)
def plan_edit(plan_id: int):
    plan = db.get_or_404(Plan, plan_id)
    if plan.state != PlanState.DRAFT:
        flash("名单冻结后计划不可修改。", "error")
        return redirect(url_for("plans.plan_detail", plan_id=plan.id))
    form = _plan_form(plan)
    if request.method == "POST" and form.validate_on_submit():
        with write(PlanError, form=form, success="已保存计划。") as w:
            update_plan(plan.id, _raw(form), actor=current_user)
        if w.ok:
            return redirect(url_for("plans.plan_detail", plan_id=plan.id))
    status = 422 if request.method == "POST" else 200
    return render_template("plans/plan_form.html", form=form, plan=plan), status


@bp.route("/<int:plan_id>")
@access(*STAFF_ROLES)
def plan_detail(plan_id: int):
    plan = db.get_or_404(Plan, plan_id)
    draws = queries.enterprise_draws(plan)
    pre = preview(plan) if plan.state == PlanState.DRAFT else None
    # Issue 13.4: enterprises in scope still 待定 block freezing; listed (as far as the
    # user may see them) with a link each.
    unclassified = pending_risk(plan) if pre is not None and pre.pending else []
    if current_user.role == COUNTY_ADMIN:
        unclassified = [e for e in unclassified if e.unit_id == current_user.unit_id]
    pending = units_without_officer_draw(plan) if plan.state in (PlanState.DISPATCHED, PlanState.IN_PROGRESS) else []
    return render_template("plans/plan_detail.html", plan=plan, draws=draws, preview=pre,
                           unit_rows=queries.unit_rows(plan), entropy_form=EntropyForm(),
                           can_run=current_user.role == CITY_ADMIN, pending_units=pending,
                           unclassified=unclassified[:200])


@bp.route("/<int:plan_id>/freeze", methods=["POST"])
@access(CITY_ADMIN)
def plan_freeze(plan_id: int):
    db.get_or_404(Plan, plan_id)
    with write(PlanError, details=True,
               success="名单已冻结：企业名单摘要和各风险等级数量已记录并公开，现在可以输入随机数来源并抽取。"):
        freeze_plan(plan_id, current_user)
    return redirect(url_for("plans.plan_detail", plan_id=plan_id))


@bp.route("/<int:plan_id>/draw", methods=["POST"])
@access(CITY_ADMIN)
def plan_draw(plan_id: int):
    db.get_or_404(Plan, plan_id)
    form = EntropyForm()
    if not form.validate_on_submit():
        abort(400)
    with write(PlanError, details=True, success="已完成企业抽取。"):
        draw_enterprises(plan_id, form.entropy.data, current_user, form.reason.data or "")
    return redirect(url_for("plans.plan_detail", plan_id=plan_id))


@bp.route("/<int:plan_id>/dispatch", methods=["POST"])
@access(CITY_ADMIN)
def plan_dispatch(plan_id: int):
    db.get_or_404(Plan, plan_id)
    with write(PlanError, details=True, success="任务已派发到各单位。"):
        dispatch_plan(plan_id, current_user)
    return redirect(url_for("plans.plan_detail", plan_id=plan_id))


@bp.route("/<int:plan_id>/units/<int:unit_id>/draw-officers", methods=["POST"])
@access(*ADMIN_ROLES)
def officers_draw(plan_id: int, unit_id: int):
    db.get_or_404(Plan, plan_id)
    unit = db.get_or_404(Unit, unit_id)
    if not can_edit_unit(unit.id):
        abort(404)
    form = EntropyForm()
    if not form.validate_on_submit():
        abort(400)
    with write(PlanError, details=True, success=f"已完成{unit.name}的检查人员抽取。"):
        draw_officers(plan_id, unit.id, form.entropy.data, current_user)
    return redirect(url_for("plans.plan_detail", plan_id=plan_id))


@bp.route("/<int:plan_id>/draw-officers", methods=["POST"])
@access(CITY_ADMIN)
def officers_draw_all(plan_id: int):
    """The city admin draws the officers of every unit still to draw."""
    plan = db.get_or_404(Plan, plan_id)
    form = EntropyForm()
    if not form.validate_on_submit():
        abort(400)
    units = units_without_officer_draw(plan)
    with write(PlanError) as w:
        result = draw_officers_many(plan.id, [u.id for u in units], form.entropy.data, current_user)
    if w.ok:
        if result.drawn:
            flash(f"已完成 {len(result.drawn)} 个单位的检查人员抽取。", "success")
        for _unit, reason in result.failed:
            flash(reason, "error")
    return redirect(url_for("plans.plan_detail", plan_id=plan_id))


@bp.route("/<int:plan_id>/tasks")
@access(*STAFF_ROLES)
def task_list(plan_id: int):
    """The matching list: task ↔ enterprise ↔ officers with certificate numbers."""
    plan = db.get_or_404(Plan, plan_id)
    tasks = queries.plan_tasks(plan, request.args.get("unit"))
    ctx = dict(plan=plan, tasks=tasks, unit_rows=queries.unit_rows(plan), args=request.args)
    if is_htmx():
        return render_block("plans/task_list.html", "results", **ctx)
    return render_template("plans/task_list.html", **ctx)


@bp.route("/tasks/<int:task_id>")
@access(*STAFF_ROLES, INSPECTOR)
def task_detail(task_id: int):
    task = get_scoped_or_404(Task, task_id)
    replacements = queries.replacements(task)
    can_replace = can_edit_unit(task.unit_id) and task.first_answer_at is None
    can_method = task.state in TASK_OPEN_STATES and (
        can_edit_unit(task.unit_id) or (current_user.role == INSPECTOR))
    return render_template("plans/task_detail.html", task=task, replacements=replacements,
                           can_replace=can_replace, replace_form=ReplaceForm(),
                           can_method=can_method,
                           can_self_report=can_edit_unit(task.unit_id) or current_user.role == INSPECTOR)


@bp.route("/tasks/<int:task_id>/method", methods=["POST"])
@access(*ADMIN_ROLES, INSPECTOR)
def task_method(task_id: int):
    """检查方式: the county admin of the unit or an officer of the task."""
    from .services import set_task_method

    task = get_scoped_or_404(Task, task_id)
    if current_user.role in ADMIN_ROLES and not can_edit_unit(task.unit_id):
        abort(404)
    with write(PlanError, flash=not is_htmx()) as w:
        set_task_method(task.id, request.form.get("method", ""), current_user)
    message = f"检查方式：{task.method_label}" if w.ok else w.message
    if is_htmx():
        return render_block("plans/task_detail.html", "method", task=task, can_method=True,
                            method_message=message, method_ok=w.ok), w.status
    if w.ok:
        flash(message, "success")
    return redirect(url_for("plans.task_detail", task_id=task.id))


@bp.route("/tasks/<int:task_id>/officers/<int:officer_id>/replace", methods=["POST"])
@access(*ADMIN_ROLES)
def officer_replace(task_id: int, officer_id: int):
    task = get_scoped_or_404(Task, task_id)
    form = ReplaceForm()
    if not form.validate_on_submit():
        abort(400)
    with write(PlanError) as w:
        added = replace_officer(task.id, officer_id, form.reason.data or "", current_user)
    if w.ok:
        flash(f"已更换检查人员：{added.officer.name}（{added.cert_no}）加入本任务。", "success")
    return redirect(url_for("plans.task_detail", task_id=task_id))
