"""Plan use cases: create, preview, freeze, draw enterprises, dispatch, draw
officers per unit, replace an officer, and the public bundle.

Every state change runs inside one transaction that first locks the plan row
(SELECT ... FOR UPDATE on PostgreSQL; on SQLite the writing transaction holds
the database lock), then checks the state, so a double click, a retry or two
admins at once never draw twice. The draw itself is the pure protocol in
sampling.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from ..audit.services import record, record_many
from ..core.models import Unit
from ..core.signals import officer_replaced
from ..core.text import clean_text, normalize_text
from ..core.timeutil import local_today, utcnow
from ..db_setup import bulk_insert, lock_row
from ..extensions import db
from ..registry.models import Enterprise, Officer, ProductCategory, Recusal
from ..registry.vocab import ENDED_LICENCE_STATES, RISK_PENDING, OfficerStatus
from . import sampling
from .models import (EnterpriseDraw, InspectorDraw, Plan, PopulationMember, Replacement, Task, TaskDrawInfo,
                     TaskOfficer)
from .vocab import TASK_OPEN_STATES, PlanState, RatioField, TaskKind, TaskMethod, TaskState


class PlanError(Exception):
    """A refused plan operation; ``message`` (Chinese) is shown to the user, ``errors`` per field."""

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def _actor_name(actor) -> str:
    return actor.username if actor is not None else "system"


def lock_plan(plan_id: int) -> Plan:
    plan = lock_row(db.session, Plan, plan_id)
    if plan is None:
        raise PlanError("抽查计划不存在")
    return plan


def _require_state(plan: Plan, *states: str, action: str) -> None:
    if plan.state not in states:
        raise PlanError(f"计划当前状态为“{plan.state_label}”，不能{action}。")


# ---------------------------------------------------------------- plan fields

def default_deadline(year: int) -> date:
    return date(year, 10, 31)


def clean_plan_data(raw: dict, plan: Plan | None = None) -> dict:
    errors: dict[str, str] = {}
    code = clean_text(raw.get("code"))
    name = clean_text(raw.get("name"))
    if not code:
        errors["code"] = "请填写计划编号，如 许市监抽〔2023〕1号"
    elif len(code) > 60:
        errors["code"] = "计划编号不能超过 60 个字"
    elif db.session.scalar(select(Plan.id).where(Plan.code == code, Plan.id != (plan.id if plan else -1))):
        errors["code"] = f"计划编号 {code} 已存在"
    if not name:
        errors["name"] = "请填写计划名称"
    try:
        year = int(raw.get("year") or 0)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["year"] = "年度应为 2000 到 2100 之间的整数"
        year = local_today().year
    ratios = {}
    for field in RatioField:
        risk, key = field.risk.value, field.value
        value = raw.get(key)
        try:
            number = int(str(value).strip())
            if not 0 <= number <= 100:
                raise ValueError
            ratios[risk] = number
        except (TypeError, ValueError):
            errors[key] = f"{risk}风险抽取比例应为 0 到 100 的整数百分比"
    try:
        k = int(raw.get("k") or 2)
        if k < 2:
            errors["k"] = "每户企业检查人员不少于 2 人"
        elif k > 10:
            errors["k"] = "每户企业检查人员不超过 10 人"
    except (TypeError, ValueError):
        errors["k"] = "检查人员人数应为整数"
        k = 2
    deadline = raw.get("deadline") or default_deadline(year)
    if isinstance(deadline, str):
        try:
            deadline = date.fromisoformat(deadline.strip())
        except ValueError:
            errors["deadline"] = "检查截止日期格式应为 2023-10-31"
            deadline = default_deadline(year)
    try:
        workdays = int(raw.get("publication_workdays") or 20)
        if not 1 <= workdays <= 60:
            raise ValueError
    except (TypeError, ValueError):
        errors["publication_workdays"] = "公示期限应为 1 到 60 个工作日"
        workdays = 20
    scope = [clean_text(s) for s in (raw.get("scope") or []) if clean_text(s)]
    known = set(db.session.scalars(select(ProductCategory.name)))
    unknown = [s for s in scope if s not in known]
    if unknown:
        errors["scope"] = "未知的产品类别：" + "、".join(unknown)
    if errors:
        raise PlanError("计划信息有误", errors)
    return {"code": code, "name": name, "year": year, "ratios_json": json.dumps(ratios, ensure_ascii=False),
            "k": k, "deadline": deadline, "publication_workdays": workdays,
            "scope_json": json.dumps(sorted(set(scope), key=scope.index), ensure_ascii=False)}


def create_plan(raw: dict, actor=None) -> Plan:
    plan = Plan(**clean_plan_data(raw), state=PlanState.DRAFT, created_by=_actor_name(actor))
    db.session.add(plan)
    db.session.flush()
    record("plan.created", plan, details={"code": plan.code, "ratios": plan.ratios, "k": plan.k,
                                          "scope": plan.scope, "deadline": plan.deadline.isoformat()}, user=actor)
    return plan


def update_plan(plan_id: int, raw: dict, actor=None) -> Plan:
    plan = lock_plan(plan_id)
    _require_state(plan, PlanState.DRAFT, action="修改（名单冻结后计划不可修改）")
    data = clean_plan_data(raw, plan)
    changes = {k: [str(getattr(plan, k)), str(v)] for k, v in data.items() if getattr(plan, k) != v}
    for key, value in data.items():
        setattr(plan, key, value)
    if changes:
        record("plan.updated", plan, details={"code": plan.code, "changes": changes}, user=actor)
    return plan


# ---------------------------------------------------------------- population

def population_rows(plan: Plan, on: date) -> list[tuple[int, str, str, str]]:
    """(enterprise id, USCC, risk, unit code) of every enterprise in the plan's scope
    whose licence is valid on ``on`` and not ended (注销/吊销/撤销). Enterprises that
    stopped production stay in (protocol §1.1)."""
    stmt = (select(Enterprise.id, Enterprise.uscc, Enterprise.risk, Unit.code)
            .join(Unit, Unit.id == Enterprise.unit_id)
            .where(Enterprise.licence_state.not_in(ENDED_LICENCE_STATES),
                   Enterprise.issue_date <= on, Enterprise.expiry_date >= on))
    if plan.scope:
        stmt = stmt.join(ProductCategory, ProductCategory.id == Enterprise.category_id).where(
            ProductCategory.name.in_(plan.scope))
    return [tuple(row) for row in db.session.execute(stmt)]


def pending_risk(plan: Plan, on: date | None = None) -> list[Enterprise]:
    """Enterprises in the plan's scope whose risk class is still 待定 (issue 13.4): they
    have no draw ratio, so the plan cannot be frozen until they are classified."""
    ids = [eid for eid, _uscc, risk, _unit in population_rows(plan, on or local_today()) if risk == RISK_PENDING]
    if not ids:
        return []
    found = []
    for start in range(0, len(ids), 500):
        found.extend(db.session.scalars(select(Enterprise).where(Enterprise.id.in_(ids[start:start + 500]))))
    return sorted(found, key=lambda e: e.uscc)


@dataclass
class Preview:
    by_class: dict[str, int]
    sizes: dict[str, int]
    by_unit: list[tuple[str, str, dict[str, int]]]   # (code, name, {risk: count})
    total: int
    sample_total: int
    pending: int = 0              # enterprises in scope with risk 待定: counted in no class, block freezing


def preview(plan: Plan, on: date | None = None) -> Preview:
    rows = population_rows(plan, on or local_today())
    by_class = {risk: 0 for risk in sampling.RISK_ORDER}
    per_unit: dict[str, dict[str, int]] = {}
    pending = sum(1 for row in rows if row[2] == RISK_PENDING)
    rows = [row for row in rows if row[2] != RISK_PENDING]
    for _id, _uscc, risk, unit in rows:
        by_class[risk] += 1
        per_unit.setdefault(unit, {r: 0 for r in sampling.RISK_ORDER})[risk] += 1
    sizes = {risk: sampling.sample_size(by_class[risk], plan.ratios[risk]) for risk in sampling.RISK_ORDER}
    names = {u.code: u.name for u in db.session.scalars(select(Unit).order_by(Unit.sort_order))}
    by_unit = [(code, names.get(code, code), per_unit[code]) for code in names if code in per_unit]
    return Preview(by_class, sizes, by_unit, len(rows), sum(sizes.values()), pending)


# ---------------------------------------------------------------- draw steps

def freeze_plan(plan_id: int, actor=None) -> Plan:
    """Snapshot the population; its digest and counts are recorded before any entropy exists."""
    plan = lock_plan(plan_id)
    _require_state(plan, PlanState.DRAFT, action="冻结名单")
    today = local_today()
    rows = population_rows(plan, today)
    if not rows:
        raise PlanError("计划范围内没有有效期内的获证企业，不能冻结名单。")
    pending = [uscc for _id, uscc, risk, _unit in rows if risk == RISK_PENDING]
    if pending:
        # Refused, not confirmed away: an unclassified enterprise has no draw ratio, and
        # leaving it out of the frozen population would exempt it from the year's draw.
        shown = "、".join(sorted(pending)[:10]) + ("等" if len(pending) > 10 else "")
        raise PlanError(f"计划范围内有 {len(pending)} 户企业风险等级为“待定”，不能冻结名单；"
                        f"请先导入风险分级结果或在企业库中定级：{shown}")
    members = [sampling.Member(uscc, risk, unit) for _id, uscc, risk, unit in rows]
    plan.population_digest = sampling.population_digest(members)
    plan.population_count = len(members)
    plan.class_counts_json = json.dumps(sampling.class_counts(members), ensure_ascii=False)
    plan.frozen_at = utcnow()
    plan.freeze_date = today
    plan.state = PlanState.FROZEN
    bulk_insert(db.session, PopulationMember.__table__,
                [{"plan_id": plan.id, "enterprise_id": eid, "uscc": uscc, "risk": risk, "unit_code": unit}
                 for eid, uscc, risk, unit in rows])
    record("plan.frozen", plan, details={"code": plan.code, "population_digest": plan.population_digest,
                                         "population_count": plan.population_count,
                                         "class_counts": plan.class_counts, "freeze_date": today.isoformat()},
           user=actor)
    return plan


def frozen_members(plan: Plan) -> list[sampling.Member]:
    rows = db.session.execute(select(PopulationMember.uscc, PopulationMember.risk, PopulationMember.unit_code)
                              .where(PopulationMember.plan_id == plan.id))
    return [sampling.Member(uscc, risk, unit) for uscc, risk, unit in rows]


def draw_enterprises(plan_id: int, entropy: str | None, actor=None, reason: str = "") -> EnterpriseDraw:
    """Draw the enterprises. A second draw (before dispatch) needs a reason and keeps the first."""
    plan = lock_plan(plan_id)
    _require_state(plan, PlanState.FROZEN, PlanState.DRAWN, action="抽取企业（派发后不能重新抽取）")
    reason = clean_text(reason)
    previous = plan.current_draw
    if plan.state == PlanState.DRAWN:
        if not reason:
            raise PlanError("重新抽取必须填写理由。", {"reason": "请填写重新抽取的理由"})
    source = "entered" if normalize_text(entropy) else "server"
    entropy_value = sampling.resolve_entropy(entropy)
    members = frozen_members(plan)
    digest = sampling.population_digest(members)
    if digest != plan.population_digest:  # the snapshot was changed behind the app's back
        raise PlanError("冻结名单与其摘要不一致，抽取已中止，请检查数据库。")
    seed = sampling.enterprise_seed(plan.code, digest, entropy_value)
    selected = sampling.select_enterprises(members, plan.ratios, seed)
    version = 1
    if previous is not None:
        previous.superseded = True
        version = previous.version + 1
        db.session.flush()
    draw = EnterpriseDraw(plan_id=plan.id, version=version, entropy=entropy_value, entropy_source=source,
                          seed=seed, selected_json=json.dumps(selected), reason=reason,
                          drawn_by=_actor_name(actor))
    db.session.add(draw)
    plan.state = PlanState.DRAWN
    db.session.flush()
    record("plan.redrawn" if previous else "plan.drawn", plan,
           details={"code": plan.code, "version": version, "entropy": entropy_value, "entropy_source": source,
                    "seed": seed, "selected": len(selected), "reason": reason}, user=actor)
    return draw


def dispatch_plan(plan_id: int, actor=None) -> list[Task]:
    """Each selected enterprise becomes a task sent to its unit."""
    plan = lock_plan(plan_id)
    _require_state(plan, PlanState.DRAWN, action="派发任务")
    draw = plan.current_draw
    selected = draw.selected
    members = {m.uscc: m for m in db.session.scalars(
        select(PopulationMember).where(PopulationMember.plan_id == plan.id, PopulationMember.uscc.in_(selected)))}
    units = {u.code: u.id for u in db.session.scalars(select(Unit))}
    now = utcnow()
    rows = []
    for i, uscc in enumerate(selected):
        member = members[uscc]
        rows.append({"code": sampling.default_task_code(plan.code, i + 1, len(selected)), "plan_id": plan.id,
                     "enterprise_id": member.enterprise_id, "unit_id": units[member.unit_code], "uscc": uscc,
                     "risk": member.risk, "position": i, "state": TaskState.PENDING, "created_at": now})
    bulk_insert(db.session, Task.__table__, rows)
    plan.state = PlanState.DISPATCHED
    plan.dispatched_at = now
    per_unit: dict[str, int] = {}
    for uscc in selected:
        per_unit[members[uscc].unit_code] = per_unit.get(members[uscc].unit_code, 0) + 1
    record("plan.dispatched", plan, details={"code": plan.code, "tasks": len(rows), "per_unit": per_unit},
           user=actor)
    db.session.flush()
    return db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.code)).all()


# ------------------------------------------------------------- officer draws

def in_pool(deadline: date):
    """Protocol §2.1: active officers whose certificate is valid until the deadline."""
    return (Officer.status == OfficerStatus.ACTIVE) & (Officer.cert_expiry >= deadline)


def officer_pool(unit_id: int, deadline: date) -> list[Officer]:
    return db.session.scalars(select(Officer).where(Officer.unit_id == unit_id, in_pool(deadline))
                              .order_by(Officer.cert_no)).all()


def previous_inspectors(plan: Plan, enterprise_ids) -> dict[int, set[str]]:
    """For each enterprise (ids, or a subquery of ids): the officers (cert numbers) of its
    most recent earlier inspection."""
    latest = (select(Task.enterprise_id, func.max(Task.id).label("task_id"))
              .join(Plan, Plan.id == Task.plan_id)
              .where(Task.plan_id != plan.id, Task.enterprise_id.in_(enterprise_ids), Plan.created_at < plan.created_at)
              .group_by(Task.enterprise_id).subquery())
    rows = db.session.execute(select(latest.c.enterprise_id, TaskOfficer.cert_no)
                              .join(TaskOfficer, TaskOfficer.task_id == latest.c.task_id)
                              .where(TaskOfficer.active.is_(True)))
    out: dict[int, set[str]] = {}
    for enterprise_id, cert in rows:
        out.setdefault(enterprise_id, set()).add(cert)
    return out


def _plan_exclusions(plan: Plan) -> dict[int, set[str]]:
    """Per enterprise of the plan's tasks: officers with a recusal, and the officers
    of the enterprise's most recent earlier inspection (protocol §2.3)."""
    out: dict[int, set[str]] = {}
    in_plan = select(Task.enterprise_id).where(Task.plan_id == plan.id)
    for enterprise_id, cert in db.session.execute(
            select(Recusal.enterprise_id, Officer.cert_no).join(Officer, Officer.id == Recusal.officer_id)
            .where(Recusal.enterprise_id.in_(in_plan))):
        out.setdefault(enterprise_id, set()).add(cert)
    for enterprise_id, certs in previous_inspectors(plan, in_plan).items():
        out.setdefault(enterprise_id, set()).update(certs)
    return out


@dataclass
class OfficerDrawResult:
    drawn: list[InspectorDraw]
    failed: list[tuple[Unit, str]]          # (unit, Chinese reason): nothing stored for it


def draw_officers(plan_id: int, unit_id: int, entropy: str | None, actor=None) -> InspectorDraw:
    """Draw k officers for each of one unit's tasks; all or nothing."""
    result = draw_officers_many(plan_id, [unit_id], entropy, actor)
    if result.failed:
        raise PlanError(result.failed[0][1])
    return result.drawn[0]


def draw_officers_many(plan_id: int, unit_ids: list[int], entropy: str | None, actor=None) -> OfficerDrawResult:
    """Officer draws of several units in one transaction (the city admin's "all units").

    Each unit is its own draw with its own seed and is all-or-nothing: a unit whose
    pool is too small is reported in ``failed`` and nothing is stored for it, while
    the other units are drawn. Rows are loaded and written in bulk, so the cost is the
    protocol's ranking (one HMAC per task and pool member), not round trips per unit.
    """
    plan = lock_plan(plan_id)
    _require_state(plan, PlanState.DISPATCHED, PlanState.IN_PROGRESS, action="抽取检查人员")
    wanted = set(unit_ids)
    # Many units (a city-wide draw) are filtered here rather than with an IN list of
    # thousands of parameters.
    few = len(wanted) <= 50
    units = {u.id: u for u in db.session.scalars(select(Unit)) if u.id in wanted}
    done = {u for u in db.session.scalars(select(InspectorDraw.unit_id).where(InspectorDraw.plan_id == plan.id))
            if u in wanted}
    task_stmt = select(Task.id, Task.code, Task.uscc, Task.enterprise_id, Task.unit_id).where(
        Task.plan_id == plan.id, Task.kind == TaskKind.DRAWN)
    officer_stmt = (select(Officer.id, Officer.cert_no, Officer.unit_id).where(in_pool(plan.deadline))
                    .order_by(Officer.cert_no))
    if few:
        task_stmt = task_stmt.where(Task.unit_id.in_(wanted))
        officer_stmt = officer_stmt.where(Officer.unit_id.in_(wanted))
    tasks_by_unit: dict[int, list] = {}
    for row in db.session.execute(task_stmt):
        if row.unit_id in wanted:
            tasks_by_unit.setdefault(row.unit_id, []).append(row)
    pools: dict[int, list] = {}
    for row in db.session.execute(officer_stmt):
        if row.unit_id in wanted:
            pools.setdefault(row.unit_id, []).append(row)
    excluded = _plan_exclusions(plan)
    source = "entered" if normalize_text(entropy) else "server"
    result = OfficerDrawResult([], [])
    draw_infos, officer_rows, audit = [], [], []
    now = utcnow()
    for unit_id in unit_ids:
        unit = units.get(unit_id)
        if unit is None:
            raise PlanError("单位不存在")
        if unit_id in done:
            result.failed.append((unit, f"{unit.name}的检查人员已抽取，不能重复抽取（如需调整请逐户更换并说明理由）。"))
            continue
        tasks = tasks_by_unit.get(unit_id, [])
        if not tasks:
            result.failed.append((unit, f"{unit.name}在本计划中没有抽查任务。"))
            continue
        officers = pools.get(unit_id, [])
        pool = [o.cert_no for o in officers]
        if len(pool) < plan.k:
            result.failed.append((unit, f"{unit.name}可抽取的检查人员只有 {len(pool)} 人（在岗且执法证有效期至 "
                                        f"{plan.deadline} 之后），少于每户 {plan.k} 人，未抽取。"))
            continue
        exclusions = {t.code: sorted(excluded.get(t.enterprise_id, set())) for t in tasks}
        entropy_value = sampling.resolve_entropy(entropy)   # server randomness is per unit
        digest = sampling.pool_digest(pool)
        seed = sampling.inspector_seed(plan.code, unit.code, digest, entropy_value)
        try:
            assignments = sampling.assign_inspectors([(t.code, t.uscc) for t in tasks], pool, exclusions,
                                                     plan.k, seed)
        except sampling.InsufficientPool as exc:
            result.failed.append((unit, f"{unit.name}的检查人员抽取失败：{exc}。未保存任何结果；"
                                        "请补充在岗人员或核对回避后重新抽取。"))
            continue
        cap = sampling.compute_cap(len(tasks), plan.k, len(pool))
        draw = InspectorDraw(plan_id=plan.id, unit_id=unit_id, pool_json=json.dumps(pool, ensure_ascii=False),
                             pool_digest=digest, entropy=entropy_value, entropy_source=source, seed=seed, cap=cap,
                             drawn_by=_actor_name(actor), drawn_at=now)
        draw.unit = unit  # for the caller's report; the row itself is written in bulk below
        result.drawn.append(draw)
        task_ids = {t.code: t.id for t in tasks}
        officer_ids = {o.cert_no: o.id for o in officers}
        for assignment in assignments:
            task_id = task_ids[assignment.task]
            draw_infos.append({"task_id": task_id,
                                 "excluded_json": json.dumps(assignment.excluded, ensure_ascii=False),
                                 "cap_lifted": assignment.cap_lifted})
            for order, cert in enumerate(assignment.inspectors):
                officer_rows.append({"task_id": task_id, "officer_id": officer_ids[cert], "cert_no": cert,
                                     "drawn": True, "pick_order": order, "active": True, "added_at": now,
                                     "replaced_by": "", "replace_reason": ""})
        audit.append({"action": "plan.officers_drawn", "object_type": "inspector_draw", "object_id": unit.code,
                      "details": {"plan": plan.code, "unit": unit.code, "tasks": len(tasks), "pool": len(pool),
                                  "pool_digest": digest, "entropy": entropy_value, "entropy_source": source,
                                  "seed": seed, "cap": cap, "cap_lifted": sum(a.cap_lifted for a in assignments)}})
    if result.drawn:
        columns = ("plan_id", "unit_id", "pool_json", "pool_digest", "entropy", "entropy_source", "seed", "cap",
                   "drawn_by", "drawn_at")
        bulk_insert(db.session, InspectorDraw.__table__, [{c: getattr(d, c) for c in columns} for d in result.drawn])
        bulk_insert(db.session, TaskDrawInfo.__table__, draw_infos)
        bulk_insert(db.session, TaskOfficer.__table__, officer_rows)
        record_many(audit, user=actor)
        db.session.flush()
        if not units_without_officer_draw(plan) and plan.state == PlanState.DISPATCHED:
            plan.state = PlanState.IN_PROGRESS
            record("plan.in_progress", plan, details={"code": plan.code}, user=actor)
    return result


def units_without_officer_draw(plan: Plan) -> list[Unit]:
    drawn = select(InspectorDraw.unit_id).where(InspectorDraw.plan_id == plan.id)
    ids = select(Task.unit_id).where(Task.plan_id == plan.id, Task.unit_id.not_in(drawn)).distinct()
    return db.session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.sort_order)).all()


def replace_officer(task_id: int, out_officer_id: int, reason: str, actor=None) -> TaskOfficer:
    """Replace one officer before any answer is saved: the next candidate in the task's rank order.

    A signature the replaced officer already gave on the unsubmitted record is voided
    (kept, shown as 已作废 with the reason, never counted): the newcomer must sign."""
    task = lock_row(db.session, Task, task_id)
    if task is None:
        raise PlanError("抽查任务不存在")
    plan = task.plan
    reason = clean_text(reason)
    if not reason:
        raise PlanError("更换检查人员必须填写理由。", {"reason": "请填写更换理由"})
    if task.first_answer_at is not None:
        raise PlanError("该任务已开始填写检查记录，不能再更换检查人员。")
    if plan.state not in (PlanState.DISPATCHED, PlanState.IN_PROGRESS):
        raise PlanError(f"计划当前状态为“{plan.state_label}”，不能更换检查人员。")
    current = next((o for o in task.active_officers if o.officer_id == out_officer_id), None)
    if current is None:
        raise PlanError("该人员不是本任务当前的检查人员。")
    draw = db.session.scalar(select(InspectorDraw).where(InspectorDraw.plan_id == plan.id,
                                                         InspectorDraw.unit_id == task.unit_id))
    ever = [o.cert_no for o in task.officers]
    cert = sampling.next_replacement(task.code, draw.pool, task.excluded, ever, draw.seed)
    if cert is None:
        raise PlanError("没有可替换的检查人员：本单位人员池中其他人员均已回避或曾被分配到本任务。")
    newcomer = db.session.scalar(select(Officer).where(Officer.cert_no == cert))
    now = utcnow()
    current.active = False
    current.replaced_at = now
    current.replaced_by = _actor_name(actor)
    current.replace_reason = reason
    added = TaskOfficer(task_id=task.id, officer_id=newcomer.id, cert_no=cert, drawn=False,
                        pick_order=len(task.officers), active=True, added_at=now)
    db.session.add(added)
    db.session.add(Replacement(task_id=task.id, out_cert=current.cert_no, in_cert=cert, reason=reason, at=now,
                               by=_actor_name(actor)))
    db.session.flush()
    # inspections: the replaced officer's signatures on unsubmitted records are voided
    voided = sum(n for _receiver, n in officer_replaced.send(task, officer_id=current.officer_id, reason=reason,
                                                             actor=actor))
    record("task.officer_replaced", task, details={"task": task.code, "out": current.cert_no, "in": cert,
                                                   "reason": reason, "signatures_voided": voided}, user=actor)
    return added


# -------------------------------------------------------------------- bundle

def build_bundle(plan: Plan) -> dict:
    """Everything needed to recompute the plan's draws from stored data, nothing private."""
    if plan.state == PlanState.DRAFT:
        raise PlanError("草稿计划尚未冻结名单，没有可公开的抽取数据。")
    population = db.session.execute(select(PopulationMember.uscc, PopulationMember.risk, PopulationMember.unit_code)
                                    .where(PopulationMember.plan_id == plan.id).order_by(PopulationMember.uscc))
    bundle = {
        "protocol": sampling.PROTOCOL,
        "plan": {"code": plan.code, "name": plan.name, "ratios": plan.ratios, "k": plan.k,
                 "year": plan.year, "deadline": plan.deadline.isoformat(), "scope": plan.scope},
        "population": [{"uscc": u, "risk": r, "unit": c} for u, r, c in population],
        "population_digest": plan.population_digest,
        "freeze_date": plan.freeze_date.isoformat() if plan.freeze_date else None,
    }
    draws = db.session.scalars(select(EnterpriseDraw).where(EnterpriseDraw.plan_id == plan.id)
                               .order_by(EnterpriseDraw.version)).all()
    current = next((d for d in draws if not d.superseded), None)
    if current is None:
        return bundle
    bundle.update({"entropy": current.entropy, "seed": current.seed, "selected": current.selected})
    bundle["draw_versions"] = [{"version": d.version, "entropy": d.entropy, "seed": d.seed, "selected": d.selected,
                                "reason": d.reason, "drawn_at": d.drawn_at.isoformat(), "superseded": d.superseded}
                               for d in draws]
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id, Task.kind == TaskKind.DRAWN)
                               .order_by(Task.position)).all()
    if not tasks:
        return bundle
    bundle["tasks"] = [{"code": t.code, "uscc": t.uscc, "unit": t.unit.code} for t in tasks]
    inspector_draws = []
    for draw in db.session.scalars(select(InspectorDraw).where(InspectorDraw.plan_id == plan.id)
                                   .order_by(InspectorDraw.id)):
        unit_tasks = sorted((t for t in tasks if t.unit_id == draw.unit_id), key=lambda t: t.uscc)
        replacements = db.session.scalars(
            select(Replacement).where(Replacement.task_id.in_([t.id for t in unit_tasks])).order_by(Replacement.id))
        inspector_draws.append({
            "unit": draw.unit.code, "pool": draw.pool, "pool_digest": draw.pool_digest, "entropy": draw.entropy,
            "seed": draw.seed, "cap": draw.cap,
            "assignments": [{"task": t.code, "excluded": t.excluded,
                             "inspectors": [o.cert_no for o in t.drawn_officers], "cap_lifted": t.cap_lifted}
                            for t in unit_tasks],
            "replacements": [{"task": next(t.code for t in unit_tasks if t.id == r.task_id), "out": r.out_cert,
                              "in": r.in_cert, "reason": r.reason, "at": r.at.isoformat()} for r in replacements],
        })
    bundle["inspector_draws"] = inspector_draws
    return bundle


# ------------------------------------------------------- later inspections, 复查

FOLLOWUP_CODE_LABELS = {TaskKind.LATER: "后续", TaskKind.RECHECK: "复查"}


def create_followup_task(origin_id: int, kind: str, officer_ids: list[int] | None, entropy: str | None,
                         actor=None) -> Task:
    """A 后续检查 or 复查 task for the enterprise of ``origin_id``, in the same plan and unit,
    linked to the original (not random). Officers are either chosen (``officer_ids``, at
    least the plan's k) or drawn by the protocol's ranking for this one task; recusals and
    the officers of the enterprise's previous inspection are excluded from a draw, and a
    chosen officer with a recusal is refused."""
    if kind not in (TaskKind.LATER, TaskKind.RECHECK):
        raise PlanError("未知的任务类型")
    origin = lock_row(db.session, Task, origin_id)
    if origin is None:
        raise PlanError("抽查任务不存在")
    plan = origin.plan
    if plan.state not in (PlanState.DISPATCHED, PlanState.IN_PROGRESS, PlanState.COMPLETED):
        raise PlanError(f"计划当前状态为“{plan.state_label}”，不能派发{TaskKind(kind).label}任务。")
    running = db.session.scalar(select(Task.code).where(Task.origin_task_id == origin.id, Task.kind == kind,
                                                         Task.state != TaskState.APPROVED).limit(1))
    if running:
        raise PlanError(f"该企业已有未完成的{TaskKind(kind).label}任务 {running}，完成后才能再派发。")
    today = local_today()
    pool_rows = officer_pool(origin.unit_id, max(today, plan.deadline))
    pool = {o.id: o for o in pool_rows}
    recused = set(db.session.scalars(select(Recusal.officer_id).where(Recusal.enterprise_id == origin.enterprise_id)))
    rnd = (db.session.scalar(select(func.max(Task.round)).where(Task.plan_id == plan.id,
                                                               Task.enterprise_id == origin.enterprise_id)) or 0) + 1
    code = f"{origin.code}-{FOLLOWUP_CODE_LABELS[kind]}{rnd}"
    excluded: set[str] = {o.cert_no for o in pool_rows if o.id in recused}
    details: dict = {"origin": origin.code, "kind": kind}
    if officer_ids:
        ids = list(dict.fromkeys(int(i) for i in officer_ids))
        if len(ids) < plan.k:
            raise PlanError(f"请至少选择 {plan.k} 名检查人员。", {"officers": f"至少 {plan.k} 人"})
        for officer_id in ids:
            officer = pool.get(officer_id)
            if officer is None:
                raise PlanError("所选人员不是本单位在岗且执法证有效的检查人员。")
            if officer_id in recused:
                raise PlanError(f"{officer.name}（{officer.cert_no}）已对该企业申请回避，不能选派。")
        chosen = [pool[i].cert_no for i in ids]
        drawn = False
    else:
        excluded |= previous_inspectors(plan, [origin.enterprise_id]).get(origin.enterprise_id, set())
        excluded |= {o.cert_no for o in origin.active_officers}     # the previous inspection's officers
        certs = sorted(o.cert_no for o in pool_rows)
        candidates = [c for c in certs if c not in excluded]
        if len(candidates) < plan.k:
            raise PlanError(f"{origin.unit.name}可抽取的检查人员（排除回避和上次检查人员后）只有 {len(candidates)} 人，"
                            f"少于 {plan.k} 人，请改为指定人员。")
        entropy_value = sampling.resolve_entropy(entropy)
        digest = sampling.pool_digest(certs)
        seed = sampling.inspector_seed(plan.code, code, digest, entropy_value)
        assignment = sampling.assign_inspectors([(code, origin.uscc)], certs, {code: sorted(excluded)}, plan.k,
                                                seed)[0]
        chosen = list(assignment.inspectors)
        drawn = True
        details.update({"entropy": entropy_value, "seed": seed, "pool_digest": digest, "pool": certs})
    task = Task(code=code, plan_id=plan.id, enterprise_id=origin.enterprise_id, unit_id=origin.unit_id,
                uscc=origin.uscc, risk=origin.risk, position=origin.position, state=TaskState.PENDING, kind=kind,
                round=rnd, origin_task_id=origin.id, method=origin.method)
    db.session.add(task)
    db.session.flush()
    db.session.add(TaskDrawInfo(task_id=task.id, excluded_json=json.dumps(sorted(excluded), ensure_ascii=False),
                                cap_lifted=False))
    by_cert = {o.cert_no: o for o in pool_rows}
    for order, cert in enumerate(chosen):
        db.session.add(TaskOfficer(task_id=task.id, officer_id=by_cert[cert].id, cert_no=cert, drawn=drawn,
                                   pick_order=order, active=True))
    db.session.flush()
    details.update({"task": code, "officers": chosen, "drawn": drawn, "excluded": sorted(excluded)})
    record("task.followup_created", task, details=details, user=actor)
    return task


def set_task_method(task_id: int, method: str, actor=None) -> Task:
    """检查方式 of a task, chosen before the record is submitted."""
    task = lock_row(db.session, Task, task_id)
    if task is None:
        raise PlanError("抽查任务不存在")
    if method not in TaskMethod.labels():
        raise PlanError("请选择检查方式：" + "、".join(TaskMethod.labels().values()))
    if task.state not in TASK_OPEN_STATES:
        raise PlanError("检查记录已提交，不能再修改检查方式。")
    if task.method != method:
        record("task.method_set", task, details={"task": task.code, "from": task.method, "to": method}, user=actor)
        task.method = method
    return task


def copy_plan_data(plan: Plan) -> dict:
    """A new plan's fields from an earlier one (same scope, ratios, k, workdays), for the next year."""
    year = plan.year + 1
    return {"code": "", "name": plan.name.replace(str(plan.year), str(year)), "year": year,
            "scope": plan.scope, "ratios": plan.ratios, "k": plan.k,
            "deadline": plan.deadline.replace(year=year) if not (plan.deadline.month == 2 and plan.deadline.day == 29)
            else default_deadline(year), "publication_workdays": plan.publication_workdays}


def plans_for_public() -> list[Plan]:
    return db.session.scalars(select(Plan).where(Plan.state != PlanState.DRAFT)
                              .order_by(Plan.year.desc(), Plan.id.desc())).all()


