"""Downloads: the summary report, the archives, the notices. Thin: scope, call, send."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from urllib.parse import quote

from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access, can_edit_unit, get_scoped_or_404
from ..core.responses import file_response
from ..core.roles import INSPECTOR
from ..core.writes import write
from ..extensions import db
from ..plans.models import Plan, Task
from ..plans.vocab import PlanState
from . import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _plan(plan_id: int) -> Plan:
    plan = db.get_or_404(Plan, plan_id)
    if plan.state == PlanState.DRAFT:
        abort(404)
    return plan


@bp.route("/plans/<int:plan_id>/summary.<fmt>")
@access(*STAFF_ROLES)
def summary(plan_id: int, fmt: str):
    """工作总结统计表 of the plan, over the tasks the user may see (a county: its own unit)."""
    from ..oversight.figures import summary as figures_summary
    from .summary import to_pdf, to_xlsx

    if fmt not in ("xlsx", "pdf"):
        abort(404)
    plan = _plan(plan_id)
    s = figures_summary(plan, current_user)
    name = f"工作总结统计表-{plan.code}.{fmt}"
    if fmt == "xlsx":
        return file_response(to_xlsx(s), XLSX, name)
    return file_response(to_pdf(s), "application/pdf", name)


def _zip_response(chunks, filename: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype="application/zip")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tasks/<int:task_id>/archive.zip")
@access(*STAFF_ROLES, INSPECTOR)
def task_archive(task_id: int):
    """The task's archive: its unit's admins, the city, read-only supervisors, its officers."""
    from .archive import safe_name, stream_task_archive

    task = get_scoped_or_404(Task, task_id)
    return _zip_response(stream_task_archive(task), f"档案-{safe_name(task.code)}.zip")


@bp.route("/plans/<int:plan_id>/archive.zip")
@access(*STAFF_ROLES)
def plan_archive(plan_id: int):
    """The plan's archive over the tasks the user may see (a county: its own unit)."""
    from .archive import safe_name, stream_plan_archive

    plan = _plan(plan_id)
    return _zip_response(stream_plan_archive(plan, current_user), f"档案-{safe_name(plan.code)}.zip")


@bp.route("/tasks/<int:task_id>/notice.pdf")
@access(*STAFF_ROLES, INSPECTOR)
def inspection_notice(task_id: int):
    from .notices import inspection_notice_pdf

    task = get_scoped_or_404(Task, task_id)
    return file_response(inspection_notice_pdf(task), "application/pdf", f"检查通知书-{task.code}.pdf", inline=True)


@bp.route("/plans/<int:plan_id>/matching.pdf")
@access(*STAFF_ROLES)
def matching_list(plan_id: int):
    """匹配清单 per officer team, filtered by ?unit=CODE and ?officer=ID."""
    from ..core.params import int_arg
    from ..registry.models import Officer
    from .notices import matching_list_pdf

    plan = _plan(plan_id)
    officer = None
    officer_id = int_arg(request.args, "officer", minimum=1)
    if officer_id:
        officer = get_scoped_or_404(Officer, officer_id)
    data = matching_list_pdf(plan, current_user, request.args.get("unit", "").strip()[:12], officer)
    return file_response(data, "application/pdf", f"匹配清单-{plan.code}.pdf", inline=True)


@bp.route("/cases/<int:case_id>/rectify-notice", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def rectify_notice(case_id: int):
    """The 责令整改通知书 of the case's latest 责令整改: the admin enters the number, the problems
    and the legal basis; the PDF prints what was stored."""
    from ..oversight.models import FollowUpCase
    from .notices import NoticeError, latest_order, notice_for, save_notice

    case = get_scoped_or_404(FollowUpCase, case_id)
    action = latest_order(case)
    can_edit = current_user.role in ADMIN_ROLES and can_edit_unit(case.task.unit_id)
    errors: dict[str, str] = {}
    form = None
    if request.method == "POST":
        if not can_edit:
            abort(403)
        form = {k: request.form.get(k, "") for k in ("number", "problems", "legal_basis")}
        with write(NoticeError, flash=False) as w:
            save_notice(case, form["number"], form["problems"], form["legal_basis"], current_user)
        if w.ok:
            flash("已保存责令整改通知书。", "success")
            return redirect(url_for("reports.rectify_notice", case_id=case.id))
        errors = w.errors or {"": w.message}
    notice = notice_for(case, create=True) if action else None
    if form is None and notice is not None:
        form = {"number": notice.number, "problems": notice.problems, "legal_basis": notice.legal_basis}
    status = 422 if errors else 200
    return render_template("reports/rectify_notice.html", case=case, action=action, notice=notice, form=form or {},
                           errors=errors, can_edit=can_edit, saved=notice is not None and notice.id is not None), status


@bp.route("/cases/<int:case_id>/rectify-notice.pdf")
@access(*STAFF_ROLES)
def rectify_notice_pdf(case_id: int):
    from ..oversight.models import FollowUpCase
    from .notices import notice_for, rectify_notice_pdf as render

    case = get_scoped_or_404(FollowUpCase, case_id)
    notice = notice_for(case)
    if notice is None or notice.id is None:
        abort(404)
    return file_response(render(notice), "application/pdf", f"责令整改通知书-{case.task.code}.pdf", inline=True)
