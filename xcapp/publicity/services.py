"""Publication use cases: working-day deadlines, the publicity CSV, public results."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..db_setup import bulk_insert

from ..audit.services import record
from ..core.signals import follow_up_outcomes
from ..core.text import neutralize
from ..core.timeutil import utcnow
from ..extensions import db
from ..inspections import rules
from ..inspections.models import Inspection
from ..inspections.vocab import InspectionState
from ..plans.models import Plan, Task
from . import categories
from .models import Publication, WorkdayOverride, WorkdayYear
from .workdays import WorkdayCalendar


class PublicityError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------ working days

def calendar() -> WorkdayCalendar:
    overrides = {o.day: o.is_workday for o in db.session.scalars(select(WorkdayOverride))}
    years = list(db.session.scalars(select(WorkdayYear.year)))
    return WorkdayCalendar(overrides, years)


def add_workdays(start: date, n: int) -> date | None:
    """The n-th working day after ``start``; None (待定) when a year is not covered."""
    return calendar().deadline_or_none(start, n)


def set_override(day: date, kind: str, note: str, actor=None) -> WorkdayOverride:
    if kind not in ("休", "班"):
        raise PublicityError("请选择“休”或“班”")
    override = db.session.get(WorkdayOverride, day) or WorkdayOverride(day=day)
    override.is_workday = kind == "班"
    override.note = (note or "").strip()[:100]
    override.created_by = actor.username if actor else "system"
    db.session.add(override)
    record("workday.override_set", object_type="workday_override", object_id=day.isoformat(),
           details={"day": day.isoformat(), "kind": kind, "note": override.note}, user=actor)
    return override


def delete_override(day: date, actor=None) -> None:
    override = db.session.get(WorkdayOverride, day)
    if override is not None:
        db.session.delete(override)
        record("workday.override_deleted", object_type="workday_override", object_id=day.isoformat(), user=actor)


def mark_year_complete(year: int, complete: bool, actor=None) -> None:
    row = db.session.get(WorkdayYear, year)
    if complete and row is None:
        db.session.add(WorkdayYear(year=year, created_by=actor.username if actor else "system"))
    elif not complete and row is not None:
        db.session.delete(row)
    record("workday.year_marked", object_type="workday_year", object_id=str(year),
           details={"year": year, "complete": complete}, user=actor)


# ------------------------------------------------------------------ outcomes and CSV

def outcome_category(inspection: Inspection, rectified_tasks: set[int] | None = None,
                     decisions: dict[int, str] | None = None) -> str:
    """The result category of a record (``rectified_tasks``: preloaded task ids whose
    rectification passed its re-inspection; ``decisions``: the licensing authority's
    decision per task id, from the follow-up case; both preloaded for exports of many rows)."""
    if decisions is None:
        decisions = _case_decisions([inspection.task_id])
    # The decision recorded on the task's case; else the registry's licence state (吊销/撤销
    # entered there directly).
    decision = decisions.get(inspection.task_id) or inspection.task.enterprise.licence_state
    if decisions.get(inspection.task_id) == "注销":
        return categories.CAT_DEREGISTERED
    licence_action = {"吊销": categories.LICENCE_REVOKED, "撤销": categories.LICENCE_ANNULLED}.get(decision)
    if inspection.not_inspected_reason:
        outcome = categories.Outcome(not_inspected_reason=inspection.not_inspected_reason,
                                     licence_action=licence_action)
    else:
        done = (inspection.task_id in rectified_tasks) if rectified_tasks is not None else rectified(inspection)
        outcome = categories.Outcome(overall=inspection.conclusion, rectified=done, licence_action=licence_action)
    return categories.result_category(outcome)


def rectified(inspection: Inspection) -> bool:
    """Whether the problems found were rectified: the follow-up case's re-inspection passed."""
    return inspection.task_id in _rectified_tasks([inspection.task_id])


def _rectified_tasks(task_ids) -> set[int]:
    return {task_id for task_id, rectified, _decision in _case_rows(task_ids) if rectified}


def _case_decisions(task_ids) -> dict[int, str]:
    return {task_id: decision for task_id, _rectified, decision in _case_rows(task_ids) if decision}


def _case_rows(task_ids) -> list[tuple[int, bool, str]]:
    """(task_id, rectified, decision) of the tasks' follow-up cases, from oversight."""
    return [row for _receiver, rows in follow_up_outcomes.send(task_ids) for row in rows]


# The credit system's 检查方式 per task method (plans.vocab.TaskMethod), and the value
# for a record of an enterprise that could not be inspected.
METHOD_NOT_DONE = "未能实施检查"


def csv_method(inspection: Inspection) -> str:
    if inspection.not_inspected_reason:
        return METHOD_NOT_DONE
    return categories.INSPECTION_METHOD_LABELS.get(inspection.task.method,
                                                   categories.INSPECTION_METHOD_LABELS[categories.METHOD_ONSITE])


CSV_HEADERS = ["序号", "抽查计划编号", "抽查计划名称", "抽查任务编号", "企业名称", "统一社会信用代码", "检查实施机关",
               "抽查检查类型", "检查方式", "抽查检查日期", "抽查检查结果", "备注"]


def approved_inspections(plan: Plan, stmt_filter=None) -> list[Inspection]:
    stmt = (select(Inspection).join(Task, Task.id == Inspection.task_id)
            .where(Task.plan_id == plan.id, Inspection.state == InspectionState.APPROVED).order_by(Task.code)
            .options(joinedload(Inspection.task).joinedload(Task.enterprise)))
    if stmt_filter is not None:
        stmt = stmt_filter(stmt)
    return db.session.scalars(stmt).unique().all()


def _remark(inspection: Inspection, category: str) -> str:
    if inspection.not_inspected_reason:
        return "未能检查：" + rules.NOT_INSPECTED_REASON_LABELS[inspection.not_inspected_reason]
    if inspection.conclusion == rules.FAIL:
        return ("现场检查发现问题，已责令整改" if category == categories.CAT_PROBLEM_CORRECTED
                else "现场检查发现问题，待后续处理")
    return ""


def export_publicity(plan: Plan, encoding: str = "utf-8-sig", actor=None, stmt_filter=None) -> bytes:
    """The CSV for batch upload to 国家企业信用信息公示系统: one row per approved task.
    Records each row's first publication; re-exports keep that date."""
    if encoding not in ("utf-8-sig", "gb18030"):
        raise PublicityError("编码只支持 UTF-8（带 BOM）或 GB18030")
    now = utcnow()
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    inspections = approved_inspections(plan, stmt_filter)
    # Preloaded once: an export of 10,000 rows must not ask the database per row.
    existing = {p.inspection_id: p for p in db.session.scalars(
        select(Publication).join(Inspection, Inspection.id == Publication.inspection_id)
        .join(Task, Task.id == Inspection.task_id).where(Task.plan_id == plan.id))}
    in_plan = select(Task.id).where(Task.plan_id == plan.id)
    case_rows = _case_rows(in_plan)
    rectified_tasks = {t for t, rectified, _d in case_rows if rectified}
    decisions = {t: d for t, _r, d in case_rows if d}
    by = actor.username if actor else "system"
    new_rows, touched = [], []
    for n, inspection in enumerate(inspections, 1):
        category = outcome_category(inspection, rectified_tasks, decisions)
        publication = existing.get(inspection.id)
        if publication is None:
            new_rows.append({"inspection_id": inspection.id, "category": category, "first_published_at": now,
                             "last_exported_at": now, "exported_by": by})
        else:
            touched.append((publication, category))
        task = inspection.task
        values = [n, plan.code, plan.name, task.code, task.enterprise.name, task.uscc, task.unit.full_name,
                  "双随机抽查", csv_method(inspection),
                  inspection.inspection_date.isoformat() if inspection.inspection_date else "",
                  categories.RESULT_CATEGORY_LABELS[category], _remark(inspection, category)]
        writer.writerow([neutralize(str(v)) for v in values])
    for publication, category in touched:      # the first publication date stays as it was
        publication.category, publication.last_exported_at, publication.exported_by = category, now, by
    bulk_insert(db.session, Publication.__table__, new_rows)
    record("publicity.exported", plan, details={"plan": plan.code, "rows": len(inspections), "encoding": encoding},
           user=actor)
    return buf.getvalue().encode(encoding)


def published(plan: Plan | None = None, query: str = "") -> list[Publication]:
    """Results as published: those whose upload to the credit system an admin confirmed."""
    stmt = (select(Publication).join(Inspection, Inspection.id == Publication.inspection_id)
            .join(Task, Task.id == Inspection.task_id).where(Publication.confirmed_on.is_not(None)))
    if plan is not None:
        stmt = stmt.where(Task.plan_id == plan.id)
    if query:
        from ..registry.models import Enterprise

        q = query.strip()
        stmt = stmt.join(Enterprise, Enterprise.id == Task.enterprise_id).where(
            Enterprise.name.contains(q, autoescape=True) | Enterprise.uscc.contains(q.upper(), autoescape=True))
    return db.session.scalars(stmt.order_by(Task.code).limit(500)).unique().all()




# ------------------------------------------------------------------ confirmed publication

@dataclass
class LogRow:
    publication: Publication
    deadline: date | None
    late: bool | None          # None: not confirmed yet, or deadline 待定


def export_log(plan: Plan, stmt_filter=None) -> list[LogRow]:
    """The CSV export's own log: every exported result of the plan with its publication
    deadline, first export, confirmed upload date and 逾期公示 when confirmed after the deadline."""
    stmt = (select(Publication).join(Inspection, Inspection.id == Publication.inspection_id)
            .join(Task, Task.id == Inspection.task_id).where(Task.plan_id == plan.id).order_by(Task.code))
    if stmt_filter is not None:
        stmt = stmt_filter(stmt)
    cal = calendar()
    out = []
    for publication in db.session.scalars(stmt).unique():
        day = publication.inspection.inspection_date
        deadline = cal.deadline_or_none(day, plan.publication_workdays) if day else None
        late = None
        if publication.confirmed_on is not None and deadline is not None:
            late = publication.confirmed_on > deadline
        out.append(LogRow(publication, deadline, late))
    return out


def confirm_publication(plan: Plan, publication_ids: list[int], on: date | None, actor, stmt_filter=None) -> int:
    """The admin confirms that the exported results were uploaded to the credit system on
    ``on``: only then they count as published. Confirmed rows keep their first date."""
    from ..core.timeutil import local_today

    if on is None:
        raise PublicityError("请填写上传到国家企业信用信息公示系统的日期")
    if on > local_today():
        raise PublicityError(f"上传日期不能晚于今天（{local_today().isoformat()}）")
    if not publication_ids:
        raise PublicityError("请选择已上传的结果")
    rows = {r.publication.id: r for r in export_log(plan, stmt_filter)}
    chosen = [rows[i].publication for i in publication_ids if i in rows]
    if len(chosen) != len(set(publication_ids)):
        raise PublicityError("所选结果不属于本计划或不在您的管理范围内")
    now = utcnow()
    confirmed = []
    for publication in chosen:
        if publication.confirmed_on is not None:
            continue
        if on < to_local_date(publication.first_published_at):
            raise PublicityError(f"上传日期不能早于该结果首次导出的日期（{to_local_date(publication.first_published_at)}）")
        publication.confirmed_on, publication.confirmed_by, publication.confirmed_at = on, actor.username, now
        confirmed.append(publication.inspection.task.code)
    if confirmed:
        record("publicity.confirmed", plan, details={"plan": plan.code, "on": on.isoformat(), "tasks": confirmed},
               user=actor)
    return len(confirmed)


def to_local_date(value) -> date:
    from ..core.timeutil import to_local

    return to_local(value).date()
