"""Dashboard figures. Every figure is a list of tasks, so each number links to the
tasks behind it and the counts and the lists can never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..core.authz import scoped
from ..core.timeutil import local_today, to_local
from ..extensions import db
from ..inspections import rules
from ..inspections.models import APPROVED, SUBMITTED, Inspection
from ..plans.models import Plan, Task
from ..publicity.models import Publication
from ..publicity.services import calendar

METRICS = {
    "drawn": "抽取任务", "done": "已完成（有检查结果）", "inspected": "已检查", "not_inspected": "未能检查",
    "submitted": "待审核", "approved": "已通过", "published": "已公示", "pass": "合格", "fail": "不合格",
    "published_on_time": "按期公示", "published_late": "逾期公示",
    "overdue": "逾期未检查", "due_soon": "公示期限 5 个工作日内", "due_passed": "已超公示期限", "due_unknown": "公示期限待定",
    "rectify_overdue": "整改逾期", "later": "待后续检查（停产、转产）",
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
    inspections = {i.task_id: i for i in db.session.scalars(     # their tasks are loaded above already
        select(Inspection).options(lazyload(Inspection.task)).join(latest, (latest.c.task_id == Inspection.task_id)
                                & (latest.c.revision == Inspection.revision))).unique()}
    published = dict(db.session.execute(
        select(Inspection.task_id, func.min(Publication.first_published_at))
        .join(Publication, Publication.inspection_id == Inspection.id)
        .join(Task, Task.id == Inspection.task_id).where(Task.plan_id == plan.id)
        .group_by(Inspection.task_id)).all())
    from .followup import RECTIFYING
    from .models import FollowUpCase

    cases = {c.task_id: c for c in db.session.scalars(
        select(FollowUpCase).options(lazyload(FollowUpCase.task)).join(Task, Task.id == FollowUpCase.task_id).where(Task.plan_id == plan.id))}
    cal = calendar()
    soon_limit = cal.deadline_or_none(today, 5)
    # Inspection dates repeat: one calendar walk per date, not per task (3,750 tasks: 20 s -> 0.1 s).
    deadline_of = lru_cache(maxsize=None)(cal.deadline_or_none)
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
            elif inspection.conclusion == rules.PASS and not inspection.not_inspected_reason:
                item.metrics.add("pass")
            if item.published:
                item.metrics.add("published")
                # On time: first published within the plan's working days after the inspection.
                item.deadline = deadline_of(inspection.inspection_date, plan.publication_workdays) \
                    if inspection.inspection_date else None
                first = to_local(published[task.id]).date() if published[task.id] else None
                if item.deadline is not None and first is not None:
                    item.metrics.add("published_on_time" if first <= item.deadline else "published_late")
            else:
                item.deadline = deadline_of(inspection.inspection_date, plan.publication_workdays) \
                    if inspection.inspection_date else None
                if item.deadline is None:
                    item.metrics.add("due_unknown")
                elif item.deadline < today:
                    item.metrics.add("due_passed")
                elif soon_limit is None or item.deadline <= soon_limit:
                    item.metrics.add("due_soon")
        elif plan.deadline < today:
            item.metrics.add("overdue")
        case = cases.get(task.id)
        if case is not None and case.state == RECTIFYING and case.rectify_deadline and case.rectify_deadline < today:
            item.metrics.add("rectify_overdue")
        if done and inspection.not_inspected_reason in ("suspended", "switched") and \
                (case is None or case.state != "closed"):
            item.metrics.add("later")
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


# ------------------------------------------------------------------ follow-up cases

def open_case(inspection: Inspection, actor=None):
    """Open the follow-up case of an approved 不合格 or not-inspected record (once per task)."""
    from ..audit.services import record
    from .models import FollowUpCase

    if inspection.conclusion != rules.FAIL and not inspection.not_inspected_reason:
        return None
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == inspection.task_id))
    if case is not None:
        case.inspection_id = inspection.id
        return case
    case = FollowUpCase(task_id=inspection.task_id, inspection_id=inspection.id,
                        kind="not_inspected" if inspection.not_inspected_reason else "fail")
    db.session.add(case)
    db.session.flush()
    record("followup.opened", case, details={"task": inspection.task.code, "kind": case.kind}, user=actor)
    return case


def take_action(case_id: int, action: str, note: str, deadline: date | None, recheck_passed: bool | None, actor):
    from ..audit.services import record
    from ..core.authz import can_edit_unit
    from ..db_setup import lock_row
    from ..registry.validation import clean_text
    from . import followup
    from .models import FollowUpAction, FollowUpCase

    case = lock_row(db.session, FollowUpCase, case_id)
    if case is None or not can_edit_unit(case.task.unit_id, actor):
        raise followup.FollowUpError("不能处理该案件")
    note = clean_text(note)
    to_state = followup.next_state(case.state, action, deadline=deadline, recheck_passed=recheck_passed, note=note)
    db.session.add(FollowUpAction(case_id=case.id, action=action, note=note[:2000], deadline=deadline,
                                  recheck_passed=recheck_passed, from_state=case.state, to_state=to_state,
                                  by=actor.username))
    if action == followup.ORDER:
        case.rectify_deadline = deadline
    if action == followup.RECHECK and recheck_passed:
        case.rectified = True
    record("followup.action", case, details={"task": case.task.code, "action": action, "from": case.state,
                                             "to": to_state, "note": note,
                                             "deadline": deadline.isoformat() if deadline else None,
                                             "recheck_passed": recheck_passed}, user=actor)
    case.state = to_state
    return case


def case_proposals(case, today: date | None = None):
    from . import followup

    today = today or local_today()
    enterprise = case.task.enterprise
    return followup.proposals(case.state, rectify_deadline=case.rectify_deadline, today=today,
                              licence_expired=enterprise.shown_licence_state(today) == "过期",
                              production_stopped=enterprise.production_state in ("停产", "转产"),
                              not_inspected_reason=case.inspection.not_inspected_reason if case.inspection else "")
