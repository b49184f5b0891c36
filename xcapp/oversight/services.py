"""Dashboard figures. Every figure is a list of tasks, so each number links to the
tasks behind it and the counts and the lists can never disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..core.authz import scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..inspections import rules
from ..inspections.models import Inspection
from ..inspections.vocab import INSPECTION_DONE_STATES, InspectionState
from ..plans.models import Plan, Task
from ..plans.vocab import TaskKind, TaskState
from ..publicity.models import Publication
from ..publicity.services import calendar
from ..registry.vocab import LICENCE_EXPIRED, ProductionState
from .vocab import CaseKind

METRICS = {
    "drawn": "抽取任务", "done": "已完成（有检查结果）", "inspected": "已检查", "not_inspected": "未能检查",
    "submitted": "待审核", "approved": "已通过", "published": "已公示", "pass": "合格", "fail": "不合格",
    "published_on_time": "按期公示", "published_late": "逾期公示",
    "overdue": "逾期未检查", "due_soon": "公示期限 5 个工作日内", "due_passed": "已超公示期限", "due_unknown": "公示期限待定",
    "rectify_overdue": "整改逾期", "later": "待后续检查（停产、转产、无法联系）",
    "later_ready": "已恢复生产，待后续检查", "later_done": "后续检查已完成",
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
    """The plan's drawn tasks the user may see, each with the figures it counts in. A later
    inspection (后续检查) of a not-inspected task counts for the original once done: the
    original is then inspected, with the later record's result."""
    today = today or local_today()
    all_tasks = db.session.scalars(scoped(select(Task).where(Task.plan_id == plan.id), Task, user)
                                   .order_by(Task.code)).unique().all()
    tasks = [t for t in all_tasks if t.kind == TaskKind.DRAWN]
    later_of: dict[int, list[Task]] = {}
    for t in all_tasks:
        if t.kind == TaskKind.LATER and t.origin_task_id:
            later_of.setdefault(t.origin_task_id, []).append(t)
    latest = (select(Inspection.task_id, func.max(Inspection.revision).label("revision"))
              .join(Task, Task.id == Inspection.task_id).where(Task.plan_id == plan.id)
              .group_by(Inspection.task_id).subquery())
    inspections = {i.task_id: i for i in db.session.scalars(     # their tasks are loaded above already
        select(Inspection).options(lazyload(Inspection.task)).join(latest, (latest.c.task_id == Inspection.task_id)
                                & (latest.c.revision == Inspection.revision))).unique()}
    # Published = the upload to the credit system confirmed by an admin, with its date.
    published = dict(db.session.execute(
        select(Inspection.task_id, func.min(Publication.confirmed_on))
        .join(Publication, Publication.inspection_id == Inspection.id)
        .join(Task, Task.id == Inspection.task_id)
        .where(Task.plan_id == plan.id, Publication.confirmed_on.is_not(None))
        .group_by(Inspection.task_id)).all())
    from .followup import CLOSED, RECTIFYING
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
        first_published = published.get(task.id)
        later_done = None
        if inspection is not None and inspection.not_inspected_reason in LATER_REASONS:
            for later in later_of.get(task.id, []):
                li = inspections.get(later.id)
                if li is not None and li.state in INSPECTION_DONE_STATES and not li.not_inspected_reason:
                    later_done = li
                    first_published = published.get(later.id)
        result = later_done or inspection
        item = TaskFacts(task, inspection, first_published is not None)
        item.metrics.add("drawn")
        done = inspection is not None and inspection.state in INSPECTION_DONE_STATES
        if done:
            item.metrics.add("done")
            item.metrics.add("not_inspected" if result.not_inspected_reason else "inspected")
            if later_done is not None:
                item.metrics.add("later_done")
            item.metrics.add("submitted" if result.state == InspectionState.SUBMITTED else "approved")
            if result.conclusion == rules.FAIL:
                item.metrics.add("fail")
            elif result.conclusion == rules.PASS and not result.not_inspected_reason:
                item.metrics.add("pass")
            # Deadline: the plan's working days after the inspection whose result is published.
            item.deadline = deadline_of(result.inspection_date, plan.publication_workdays) \
                if result.inspection_date else None
            if item.published:
                item.metrics.add("published")
                if item.deadline is not None:
                    item.metrics.add("published_on_time" if first_published <= item.deadline else "published_late")
            elif item.deadline is None:
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
        if done and later_done is None and inspection.not_inspected_reason in LATER_REASONS and \
                (case is None or case.state != CLOSED):
            item.metrics.add("later")
            if task.enterprise.production_state == ProductionState.NORMAL and not later_of.get(task.id):
                item.metrics.add("later_ready")
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
    if inspection.task.kind == TaskKind.RECHECK:     # its result goes to the case that asked for it
        return None
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == inspection.task_id))
    if case is not None:
        case.inspection_id = inspection.id
        return case
    case = FollowUpCase(task_id=inspection.task_id, inspection_id=inspection.id,
                        kind=CaseKind.NOT_INSPECTED if inspection.not_inspected_reason else CaseKind.FAIL)
    db.session.add(case)
    db.session.flush()
    record("followup.opened", case, details={"task": inspection.task.code, "kind": case.kind}, user=actor)
    return case


def awaiting_decision(case) -> bool:
    """Reported to the licensing authority (报请撤销/吊销 or 注销) and no decision recorded yet."""
    from . import followup

    last = next((a for a in reversed(case.actions) if a.to_state == followup.REFERRED), None)
    return case.state == followup.REFERRED and last is not None and last.action in (followup.REVOKE, followup.CANCEL)


def _decide(case, decision: str, decided_on: date | None, doc_no: str, actor) -> None:
    """Record the licensing authority's decision: the licence state in the registry (with
    history) and the case's decision, which the publicity CSV's category follows."""
    from ..audit.services import record
    from ..registry.services import add_history
    from . import followup

    if not awaiting_decision(case):
        raise followup.FollowUpError("只有已报请发证机关撤销、吊销或注销的案件才能记录发证机关决定")
    doc_no = (doc_no or "").strip()
    followup.check_decision(decision, decided_on, doc_no, local_today())
    case.decision, case.decision_date, case.decision_doc_no = decision, decided_on, doc_no
    new_state = followup.DECISIONS[decision]
    enterprise = case.task.enterprise
    if new_state and enterprise.licence_state != new_state:
        old = enterprise.licence_state
        enterprise.licence_state = new_state
        add_history("enterprise", enterprise.id, "状态变更",
                    [("许可状态", old, f"{new_state}（{doc_no}，{decided_on.isoformat()}）")], actor)
        record("enterprise.licence_state_set", enterprise,
               details={"uscc": enterprise.uscc, "from": old, "to": new_state, "doc_no": doc_no,
                        "date": decided_on.isoformat(), "case": case.id}, user=actor)


def take_action(case_id: int, action: str, note: str, deadline: date | None, recheck_passed: bool | None, actor,
                *, decision: str = "", decided_on: date | None = None, doc_no: str = ""):
    from ..audit.services import record
    from ..core.authz import can_edit_unit
    from ..db_setup import lock_row
    from ..core.text import clean_text
    from . import followup
    from .models import FollowUpAction, FollowUpCase

    case = lock_row(db.session, FollowUpCase, case_id)
    if case is None or not can_edit_unit(case.task.unit_id, actor):
        raise followup.FollowUpError("不能处理该案件")
    note = clean_text(note)
    if action == followup.RECHECK_TASK:
        raise followup.FollowUpError("请在“派发复查任务”中选择或抽取检查人员")
    to_state = followup.next_state(case.state, action, deadline=deadline, recheck_passed=recheck_passed, note=note)
    if action == followup.DECIDE:
        _decide(case, decision, decided_on, clean_text(doc_no), actor)
        note = note or f"发证机关决定：{decision}（{case.decision_doc_no}，{decided_on.isoformat()}）"
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
                                             "recheck_passed": recheck_passed,
                                             "decision": case.decision if action == followup.DECIDE else None},
           user=actor)
    case.state = to_state
    return case


def case_proposals(case, today: date | None = None):
    from . import followup

    today = today or local_today()
    enterprise = case.task.enterprise
    return followup.proposals(case.state, rectify_deadline=case.rectify_deadline, today=today,
                              licence_expired=enterprise.shown_licence_state(today) == LICENCE_EXPIRED,
                              production_stopped=enterprise.production_state in (ProductionState.SUSPENDED,
                                                                                 ProductionState.SWITCHED),
                              not_inspected_reason=case.inspection.not_inspected_reason if case.inspection else "",
                              awaiting_decision=awaiting_decision(case))


# ------------------------------------------------------------------ later inspections and 复查 as tasks

LATER_REASONS = (rules.REASON_SUSPENDED, rules.REASON_SWITCHED, rules.REASON_UNREACHABLE)
PRODUCTION_AFTER = {rules.REASON_SUSPENDED: ProductionState.SUSPENDED.value,
                    rules.REASON_SWITCHED: ProductionState.SWITCHED.value}


def _latest_inspection(task_id: int) -> Inspection | None:
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task_id)
                             .order_by(Inspection.revision.desc()).limit(1))


def create_later_task(task_id: int, officer_ids: list[int] | None, entropy: str | None, actor):
    """后续检查: from a not-inspected record (停产, 转产, 无法联系) of a drawn task."""
    from ..core.authz import can_edit_unit
    from ..plans.services import PlanError, create_followup_task

    task = db.session.get(Task, task_id)
    if task is None or not can_edit_unit(task.unit_id, actor):
        raise PlanError("不能为该任务派发后续检查")
    if task.kind != TaskKind.DRAWN:
        raise PlanError("后续检查从原抽查任务派发")
    inspection = _latest_inspection(task.id)
    if inspection is None or inspection.state not in INSPECTION_DONE_STATES or \
            inspection.not_inspected_reason not in LATER_REASONS:
        raise PlanError("只有因停产、转产或无法联系而未能检查（已提交或已通过）的任务可以派发后续检查")
    return create_followup_task(task.id, TaskKind.LATER, officer_ids, entropy, actor)


def create_recheck_task(case_id: int, officer_ids: list[int] | None, entropy: str | None, actor):
    """复查 as a task: the case's 复查 action; the approved result of the task comes back as
    the case's 复查 result (合格 closes the rectification, 不合格 proposes 报请撤销/吊销)."""
    from ..audit.services import record
    from ..core.authz import can_edit_unit
    from ..db_setup import lock_row
    from ..plans.services import PlanError, create_followup_task
    from . import followup
    from .models import FollowUpAction, FollowUpCase

    case = lock_row(db.session, FollowUpCase, case_id)
    if case is None or not can_edit_unit(case.task.unit_id, actor):
        raise PlanError("不能处理该案件")
    try:
        followup.next_state(case.state, followup.RECHECK_TASK)
    except followup.FollowUpError as exc:
        raise PlanError(str(exc)) from None
    if case.recheck_task_id and case.recheck_task.state != TaskState.APPROVED:
        raise PlanError(f"复查任务 {case.recheck_task.code} 尚未完成")
    task = create_followup_task(case.task_id, TaskKind.RECHECK, officer_ids, entropy, actor)
    case.recheck_task_id = task.id
    db.session.add(FollowUpAction(case_id=case.id, action=followup.RECHECK_TASK, note=f"复查任务 {task.code}",
                                  from_state=case.state, to_state=case.state, by=actor.username))
    record("followup.action", case, details={"task": case.task.code, "action": followup.RECHECK_TASK,
                                             "recheck_task": task.code}, user=actor)
    return task


def _set_production_state(enterprise, new: str, why: str, actor) -> None:
    from ..audit.services import record
    from ..registry.services import add_history

    if enterprise.production_state == new:
        return
    old = enterprise.production_state
    enterprise.production_state = new
    add_history("enterprise", enterprise.id, "状态变更", [("生产状态", old, f"{new}（{why}）")], actor)
    record("enterprise.production_state_set", enterprise,
           details={"uscc": enterprise.uscc, "from": old, "to": new, "why": why}, user=actor)


def on_inspection_approved(inspection: Inspection, actor=None, **_):
    """After approval: the registry's production state follows a 停产/转产 record; a done
    later inspection closes the original's case; a 复查 task's result is the case's 复查."""
    from . import followup
    from .models import FollowUpCase

    open_case(inspection, actor)   # 不合格 and not-inspected records get a follow-up case
    task = inspection.task
    reason = inspection.not_inspected_reason
    if reason in PRODUCTION_AFTER:
        _set_production_state(task.enterprise, PRODUCTION_AFTER[reason], f"检查任务 {task.code} 未能检查", actor)
    if task.kind == TaskKind.LATER and not reason:
        _set_production_state(task.enterprise, ProductionState.NORMAL.value, f"后续检查 {task.code} 已实施", actor)
        case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.origin_task_id))
        if case is not None and case.state == followup.PENDING:
            take_action(case.id, followup.CLOSE, f"后续检查 {task.code} 已完成（"
                        f"{'合格' if inspection.conclusion == rules.PASS else '不合格'}）", None, None, actor)
    if task.kind == TaskKind.RECHECK:
        case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.recheck_task_id == task.id))
        if case is not None and case.state == followup.RECTIFYING:
            if reason:
                note = f"复查任务 {task.code} 未能检查：{rules.NOT_INSPECTED_REASON_LABELS.get(reason, reason)}"
                take_action(case.id, followup.TRACK, note, None, None, actor)
            else:
                passed = inspection.conclusion == rules.PASS
                take_action(case.id, followup.RECHECK, f"复查任务 {task.code}：{'合格' if passed else '不合格'}",
                            None, passed, actor)


def case_outcomes(task_ids, **_) -> list[tuple[int, bool, str]]:
    """(task_id, rectified, decision) of the tasks' follow-up cases, for publicity's result
    categories (publicity sits below oversight and asks through a signal)."""
    from .models import FollowUpCase

    return db.session.execute(select(FollowUpCase.task_id, FollowUpCase.rectified, FollowUpCase.decision)
                              .where(FollowUpCase.task_id.in_(task_ids))).all()


def enterprise_inspections(enterprise_id: int, user) -> list[dict]:
    """Every task of an enterprise across plans and years (newest first), with its latest
    record's result and its follow-up case, as far as the user may see them."""
    from ..core.authz import scoped
    from ..plans.models import Plan
    from .models import FollowUpCase

    tasks = db.session.scalars(scoped(select(Task).join(Plan, Plan.id == Task.plan_id)
                                      .where(Task.enterprise_id == enterprise_id), Task, user)
                               .order_by(Plan.year.desc(), Task.id.desc())).unique().all()
    out = []
    for task in tasks:
        inspection = _latest_inspection(task.id)
        case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.id))
        if inspection is None or inspection.state not in INSPECTION_DONE_STATES:
            result = task.state_label
        elif inspection.not_inspected_reason:
            result = "未能检查：" + rules.NOT_INSPECTED_REASON_LABELS.get(inspection.not_inspected_reason, "")
        else:
            result = {rules.PASS: "合格", rules.FAIL: "不合格"}.get(inspection.conclusion, inspection.conclusion)
        out.append({"task": task, "inspection": inspection, "result": result, "case": case,
                    "date": inspection.inspection_date if inspection else None})
    return out
