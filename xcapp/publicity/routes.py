from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access
from ..core.responses import file_response
from ..core.roles import CITY_ADMIN
from ..core.params import int_arg
from ..core.timeutil import local_today
from ..core.writes import write
from ..extensions import db
from ..plans.models import Plan, Task
from . import bp, queries
from .workdays import PUBLICATION_DEADLINE_WORKDAYS
from .services import (PublicityError, add_workdays, confirm_publication, delete_override, export_log,
                       export_publicity, mark_year_complete, set_override)


@bp.route("/workdays", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def workdays():
    result, status = None, 200
    start = (request.args.get("start") or "").strip()
    if start and request.method == "GET":
        day, n = _day(start), int_arg(request.args, "n", PUBLICATION_DEADLINE_WORKDAYS, minimum=1,
                                      maximum=MAX_WORKDAYS)
        if day is None:
            flash(f"检查日期应在 {FIRST_DAY} 至 {LAST_DAY} 之间，格式如 2023-09-25", "error")
            status = 422
        elif n is None:
            flash(f"工作日数应为 1 至 {MAX_WORKDAYS} 之间的整数", "error")
            status = 422
        else:
            result = (day, n, add_workdays(day, n))
    if request.method == "POST":
        if current_user.role != CITY_ADMIN:
            abort(403)
        try:
            day = date.fromisoformat(request.form.get("day", ""))
        except ValueError:
            flash("日期格式应为 2023-09-25", "error")
            return redirect(url_for("publicity.workdays"))
        with write(PublicityError, success="已保存。"):
            set_override(day, request.form.get("kind", ""), request.form.get("note", ""), current_user)
        return redirect(url_for("publicity.workdays"))
    return render_template("publicity/workdays.html", overrides=queries.workday_overrides(),
                           years=queries.workday_years(), result=result,
                           this_year=local_today().year, can_edit=current_user.role == CITY_ADMIN), status


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)   # the years the override table accepts
MAX_WORKDAYS = 250   # about one year of working days


def _day(text: str) -> date | None:
    """An ISO date within the years a deadline can be computed for, else None."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


@bp.route("/workdays/<day>/delete", methods=["POST"])
@access(CITY_ADMIN)
def workday_delete(day: str):
    try:
        on = date.fromisoformat(day)
    except ValueError:
        abort(404)
    with write():
        delete_override(on, current_user)
    return redirect(url_for("publicity.workdays"))


@bp.route("/workdays/years", methods=["POST"])
@access(CITY_ADMIN)
def workday_year():
    year = request.form.get("year", type=int)
    if not year or not 2000 <= year <= 2100:
        flash("年份无效", "error")
    else:
        with write():
            mark_year_complete(year, request.form.get("complete") == "1", current_user)
    return redirect(url_for("publicity.workdays"))


@bp.route("/plans/<int:plan_id>/export.csv", methods=["POST"])
@access(*ADMIN_ROLES)
def export_csv(plan_id: int):
    """The publicity CSV of the plan (a county admin gets its own unit's rows). A POST:
    exporting records each row's first publication."""
    plan = db.get_or_404(Plan, plan_id)
    encoding = "gb18030" if request.form.get("encoding") == "gb18030" else "utf-8-sig"
    unit_filter = None
    if current_user.role != CITY_ADMIN:
        unit_filter = lambda stmt: stmt.where(Task.unit_id == current_user.unit_id)  # noqa: E731
    with write():   # the export records each row's first publication
        data = export_publicity(plan, encoding, current_user, unit_filter)
    return file_response(data, f"text/csv; charset={'gb18030' if encoding == 'gb18030' else 'utf-8'}",
                         f"公示-{plan.code}.csv")


def _unit_filter():
    if current_user.role in (CITY_ADMIN, "readonly"):
        return None
    return lambda stmt: stmt.where(Task.unit_id == current_user.unit_id)  # noqa: E731


@bp.route("/plans/<int:plan_id>")
@access(*STAFF_ROLES)
def export_log_page(plan_id: int):
    """The CSV export's own log: what was exported, whether its upload to the credit system
    was confirmed and when, and 逾期公示 when that was after the deadline."""
    plan = db.get_or_404(Plan, plan_id)
    rows = export_log(plan, _unit_filter())
    from .categories import RESULT_CATEGORY_LABELS

    ctx = dict(plan=plan, rows=rows, today=local_today(), categories=RESULT_CATEGORY_LABELS,
               can_confirm=current_user.role in ADMIN_ROLES)
    if request.headers.get("HX-Request"):
        from jinja2_fragments.flask import render_block

        return render_block("publicity/export_log.html", "log", **ctx)
    return render_template("publicity/export_log.html", **ctx)


@bp.route("/plans/<int:plan_id>/confirm", methods=["POST"])
@access(*ADMIN_ROLES)
def confirm(plan_id: int):
    plan = db.get_or_404(Plan, plan_id)
    on = _day(request.form.get("on", "").strip())
    ids = [int(i) for i in request.form.getlist("publication") if i.isdigit()]
    with write(PublicityError) as w:
        n = confirm_publication(plan, ids, on, current_user, _unit_filter())
    if w.ok:
        flash(f"已确认 {n} 条结果上传到国家企业信用信息公示系统（{on}），计为已公示。", "success")
    return redirect(url_for("publicity.export_log_page", plan_id=plan.id))
