"""Notices as PDF: the 检查通知书 to an enterprise, the 责令整改通知书 from a 责令整改 action,
and the 匹配清单 (task ↔ enterprise ↔ officers) per officer team."""
from __future__ import annotations

from datetime import date

from flask import render_template
from sqlalchemy import select

from ..core.timeutil import local_today, to_local
from ..extensions import db
from ..inspections import rules
from ..inspections.pdf import FONT_FILE, _html_to_pdf

# What the enterprise prepares for the visit (检查通知书).
TO_PREPARE = (
    "工业产品生产许可证证书（正本、副本）及营业执照",
    "企业自查报告（按检查表 12 个项目逐项自查，加盖公章）",
    "检查表第 1～12 项所涉记录：" + "；".join(f"{item.no}. {item.short}" for item in rules.ALL_ITEMS.values()),
    "关键生产设备清单及取证时的设备资料",
    "法定代表人或其授权代表到场；授权代表须持授权委托书",
)


class NoticeError(ValueError):
    pass


def date_window(task) -> tuple[date, date]:
    """From the day the task was dispatched (or today) to the plan's inspection deadline."""
    start = to_local(task.plan.dispatched_at).date() if task.plan.dispatched_at else local_today()
    return start, task.plan.deadline


def inspection_notice_pdf(task, today: date | None = None) -> bytes:
    officers = [o for o in task.active_officers]
    start, end = date_window(task)
    html = render_template("pdf/notice_inspection.html", task=task, plan=task.plan, enterprise=task.enterprise,
                           officers=officers, start=start, end=end, to_prepare=TO_PREPARE,
                           today=today or local_today(), font_url=FONT_FILE.as_uri())
    return _html_to_pdf(html)


def latest_order(case):
    """The case's latest 责令整改 action, or None."""
    from ..oversight.followup import ORDER

    orders = [a for a in case.actions if a.action == ORDER]
    return orders[-1] if orders else None


def notice_for(case, create: bool = False):
    """The 责令整改通知书 of the case's latest 责令整改 action (made on demand with the
    problems of the record as its first text)."""
    from .models import RectifyNotice

    action = latest_order(case)
    if action is None:
        return None
    notice = db.session.scalar(select(RectifyNotice).where(RectifyNotice.action_id == action.id))
    if notice is None and create:
        problems = (case.inspection.problem_summary if case.inspection else "") or ""
        notice = RectifyNotice(action_id=action.id, case_id=case.id, problems=problems, legal_basis="", number="")
    return notice


def save_notice(case, number: str, problems: str, legal_basis: str, actor):
    """Store the admin's text of the notice; audited. NoticeError (Chinese) when refused."""
    from ..audit.services import record
    from ..core.timeutil import utcnow
    from ..core.text import clean_text

    notice = notice_for(case, create=True)
    if notice is None:
        raise NoticeError("该案件尚无“责令整改”措施，不能出具责令整改通知书")
    number, problems, legal_basis = clean_text(number), clean_text(problems), clean_text(legal_basis)
    errors = {}
    if not problems.strip():
        errors["problems"] = "请填写存在的问题"
    if not legal_basis.strip():
        errors["legal_basis"] = "请填写法律依据"
    if len(number) > 80:
        errors["number"] = "文书编号不能超过 80 个字"
    if len(problems) > 4000 or len(legal_basis) > 4000:
        errors["legal_basis" if len(legal_basis) > 4000 else "problems"] = "内容不能超过 4000 个字"
    if errors:
        exc = NoticeError("；".join(errors.values()))
        exc.errors = errors
        raise exc
    notice.number, notice.problems, notice.legal_basis = number, problems, legal_basis
    notice.updated_at, notice.updated_by = utcnow(), actor.username
    db.session.add(notice)
    db.session.flush()
    record("followup.rectify_notice_saved", notice.case, details={
        "task": notice.case.task.code, "action": notice.action_id, "number": number, "problems": problems,
        "legal_basis": legal_basis}, user=actor)
    return notice


def rectify_notice_pdf(notice, today: date | None = None) -> bytes:
    case = notice.case
    task = case.task
    html = render_template("pdf/notice_rectify.html", notice=notice, action=notice.action, case=case, task=task,
                           enterprise=task.enterprise, inspection=case.inspection,
                           issued=to_local(notice.action.at).date() if notice.action.at else (today or local_today()),
                           font_url=FONT_FILE.as_uri())
    return _html_to_pdf(html)


def matching_rows(plan, user, unit_code: str = "", officer_id: int | None = None):
    """The plan's tasks the user may see, with their active officers, filtered by unit and officer;
    grouped by officer team (the same set of officers)."""
    from ..core.authz import scoped
    from ..core.models import Unit
    from ..plans.models import Task, TaskOfficer

    stmt = scoped(select(Task).where(Task.plan_id == plan.id), Task, user)
    if unit_code:
        stmt = stmt.join(Unit, Unit.id == Task.unit_id).where(Unit.code == unit_code)
    if officer_id:
        stmt = stmt.where(Task.id.in_(select(TaskOfficer.task_id).where(TaskOfficer.officer_id == officer_id,
                                                                        TaskOfficer.active.is_(True))))
    tasks = db.session.scalars(stmt.order_by(Task.code)).unique().all()
    teams: dict[tuple, dict] = {}
    for task in tasks:
        officers = task.active_officers
        key = (task.unit_id, tuple(sorted(o.officer_id for o in officers)))
        team = teams.setdefault(key, {"unit": task.unit, "officers": officers, "tasks": []})
        team["tasks"].append(task)
    return sorted(teams.values(), key=lambda t: (t["unit"].sort_order, [o.cert_no for o in t["officers"]]))


def matching_list_pdf(plan, user, unit_code: str = "", officer=None, today: date | None = None) -> bytes:
    teams = matching_rows(plan, user, unit_code, officer.id if officer else None)
    html = render_template("pdf/matching_list.html", plan=plan, teams=teams, unit_code=unit_code, officer=officer,
                           today=today or local_today(), font_url=FONT_FILE.as_uri())
    return _html_to_pdf(html)
