"""Dashboard figures. Every figure is a list of tasks, so each number links to the
tasks behind it and the counts and the lists can never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from ..core.authz import scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..inspections import rules
from ..inspections.models import APPROVED, SUBMITTED, Inspection
from ..plans.models import Plan, Task
from ..publicity.models import Publication
from ..publicity.services import calendar

METRICS = {
    "drawn": "抽取任务", "done": "已完成（有检查结果）", "inspected": "已检查", "not_inspected": "未能检查",
    "submitted": "待审核", "approved": "已通过", "published": "已公示", "fail": "不合格",
    "overdue": "逾期未检查", "due_soon": "公示期限 5 个工作日内", "due_passed": "已超公示期限", "due_unknown": "公示期限待定",
}


@dataclass
class TaskFacts:
    task: Task
    inspection: Inspection | None
    published: bool
    deadline: date | None = None        # publication deadline, when a result exists
    metrics: set[str] = field(default_factory=set)


@dataclass
class UnitRow:
    unit: object
    counts: dict[str, int]
    reasons: dict[str, int]

    def rate(self, part: str, whole: str) -> float | None:
        return self.counts[part] / self.counts[whole] if self.counts[whole] else None


def facts(plan: Plan, user, today: date | None = None) -> list[TaskFacts]:
    """The plan's tasks the user may see, each with the figures it counts in."""
    today = today or local_today()
    tasks = db.session.scalars(scoped(select(Task).where(Task.plan_id == plan.id), Task, user)
                               .order_by(Task.code)).unique().all()
    latest = (select(Inspection.task_id, func.max(Inspection.revision).label("revision"))
              .join(Task, Task.id == Inspection.task_id).where(Task.plan_id == plan.id)
              .group_by(Inspection.task_id).subquery())
    inspections = {i.task_id: i for i in db.session.scalars(
        select(Inspection).join(latest, (latest.c.task_id == Inspection.task_id)
                                & (latest.c.revision == Inspection.revision))).unique()}
    published = set(db.session.scalars(select(Inspection.task_id).join(Publication,
                                                                       Publication.inspection_id == Inspection.id)))
    cal = calendar()
    soon_limit = cal.deadline_or_none(today, 5)
    out = []
    for task in tasks:
        inspection = inspections.get(task.id)
        item = TaskFacts(task, inspection, task.id in published)
        item.metrics.add("drawn")
        done = inspection is not None and inspection.state in (SUBMITTED, APPROVED)
        if done:
            item.metrics.add("done")
            item.metrics.add("not_inspected" if inspection.not_inspected_reason else "inspected")
            item.metrics.add("submitted" if inspection.state == SUBMITTED else "approved")
            if inspection.conclusion == rules.FAIL:
                item.metrics.add("fail")
            if item.published:
                item.metrics.add("published")
            else:
                item.deadline = cal.deadline_or_none(inspection.inspection_date, plan.publication_workdays) \
                    if inspection.inspection_date else None
                if item.deadline is None:
                    item.metrics.add("due_unknown")
                elif item.deadline < today:
                    item.metrics.add("due_passed")
                elif soon_limit is None or item.deadline <= soon_limit:
                    item.metrics.add("due_soon")
        elif plan.deadline < today:
            item.metrics.add("overdue")
        out.append(item)
    return out


def unit_rows(items: list[TaskFacts]) -> list[UnitRow]:
    rows: dict[int, UnitRow] = {}
    for item in items:
        row = rows.setdefault(item.task.unit_id, UnitRow(item.task.unit, {m: 0 for m in METRICS}, {}))
        for metric in item.metrics:
            row.counts[metric] += 1
        if "not_inspected" in item.metrics:
            reason = item.inspection.not_inspected_reason
            row.reasons[reason] = row.reasons.get(reason, 0) + 1
    return sorted(rows.values(), key=lambda r: r.unit.sort_order)


def totals(rows: list[UnitRow]) -> UnitRow:
    counts = {m: sum(r.counts[m] for r in rows) for m in METRICS}
    reasons: dict[str, int] = {}
    for r in rows:
        for k, v in r.reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    return UnitRow(None, counts, reasons)
