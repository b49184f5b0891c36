"""The record's lifecycle: start (also prepared for offline use), submit and seal,
未能检查, and the county admin's review (approve, or return as a new revision)."""
from __future__ import annotations

import hashlib
import json
from datetime import date

from sqlalchemy import select

from ..audit.services import canonical_json, record
from ..core.signals import inspection_approved
from ..core.text import clean_text
from ..core.timeutil import local_today, to_local, utcnow
from ..db_setup import lock_row
from ..extensions import db
from ..plans.models import Task, TaskOfficer
from ..plans.vocab import TaskState
from ..registry.models import Officer
from . import rules
from .models import Answer, Blob, EquipmentRow, ExtraRow, Inspection, Photo
from .services import InspectionError, editable, latest, lock_record, mark_started, officer_of, status, touch_task
from .vocab import InspectionState


def start(task_id: int, actor) -> Inspection:
    """Open the first revision of a task's record, pre-filling the equipment table; a
    record prepared for offline use is started now. Tapping it again (or the other
    officer's tap, or the phone's queued tap arriving late) opens the same record."""
    task = lock_row(db.session, Task, task_id)
    if task is None or officer_of(actor, task) is None:
        raise InspectionError("只有本任务的检查人员可以开始检查。", 403)
    existing = latest(task)
    if existing is not None:
        mark_started(existing, actor)
        return existing
    return _open_record(task, actor, started=True)


def _open_record(task: Task, actor, started: bool) -> Inspection:
    inspection = Inspection(task_id=task.id, revision=1, state=InspectionState.DRAFT, started_at=utcnow() if started else None)
    db.session.add(inspection)
    db.session.flush()
    for position, item in enumerate(task.enterprise.equipment):
        db.session.add(EquipmentRow(inspection_id=inspection.id, position=position, name=item.name,
                                    model=item.model, licensed_qty=item.quantity, from_licence=True))
    record("inspection.started" if started else "inspection.prepared", inspection,
           details={"task": task.code}, user=actor)
    return inspection


def prepare_for_offline(actor) -> list[int]:
    """Records for the actor's tasks still 待检查, prepared (not started) so that their
    checklists can be cached on the phone and 开始检查 works without network. Returns
    the ids of the tasks prepared now."""
    task_ids = db.session.scalars(
        select(Task.id).join(TaskOfficer, TaskOfficer.task_id == Task.id)
        .join(Officer, Officer.id == TaskOfficer.officer_id)
        .where(Officer.user_id == actor.id, TaskOfficer.active, Task.state == TaskState.PENDING,
               ~select(Inspection.id).where(Inspection.task_id == Task.id).exists())
        .order_by(Task.id).distinct()).all()
    prepared = []
    for task_id in task_ids:
        task = lock_row(db.session, Task, task_id)
        if task is None or task.state != TaskState.PENDING or officer_of(actor, task) is None or latest(task) is not None:
            continue
        _open_record(task, actor, started=False)
        prepared.append(task_id)
    return prepared


def seal_payload(inspection: Inspection) -> dict:
    """Everything the sealed record consists of, with the hashes of every photo and signature.

    Only signatures that were not voided are the officers' signatures; voided ones (a
    replaced officer's) are sealed apart, under a key present only when there are any, so
    records sealed before voiding existed keep their seal. Late additions are not part
    of the seal."""
    task = inspection.task
    payload = {
        "task": task.code, "plan": task.plan.code, "uscc": task.uscc, "revision": inspection.revision,
        "method": inspection.method,
        "inspection_date": inspection.inspection_date.isoformat() if inspection.inspection_date else None,
        "not_inspected_reason": inspection.not_inspected_reason, "not_inspected_remark": inspection.not_inspected_remark,
        "answers": [{"item": a.item_no, "record": a.record, "conclusion": a.conclusion, "remark": a.remark}
                    for a in sorted(inspection.answers, key=lambda a: a.item_no)],
        "extra_rows": [{"project": r.project, "record": r.record, "conclusion": r.conclusion, "remark": r.remark}
                       for r in inspection.extra_rows],
        "equipment": [{"name": r.name, "model": r.model, "licensed_qty": r.licensed_qty, "onsite_qty": r.onsite_qty,
                       "status": r.status, "remark": r.remark} for r in inspection.equipment_rows],
        "problem_summary": inspection.problem_summary, "conclusion": inspection.conclusion,
        "self_check": {"match": inspection.self_check_match, "note": inspection.self_check_note},
        "officers": [{"cert": s.cert_no, "certificate_shown": s.certificate_shown, "signature": s.sha256,
                      "signed_at": s.signed_at.isoformat()} for s in sorted(inspection.signatures,
                                                                             key=lambda s: s.cert_no)
                     if s.voided_at is None],
        "enterprise": {"opinion": inspection.enterprise_opinion, "representative": inspection.enterprise_rep,
                       "signature": _blob_hash(inspection.enterprise_signature_id), "refused": inspection.refused,
                       "refusal_reason": inspection.refusal_reason,
                       "refusal_at": inspection.refusal_at.isoformat() if inspection.refusal_at else None,
                       "refusal_attested_by": json.loads(inspection.refusal_attested_by or "[]")},
        "photos": sorted(p.sha256 for p in inspection.photos),
    }
    voided = [{"cert": s.cert_no, "signature": s.sha256, "voided_at": s.voided_at.isoformat(),
               "reason": s.void_reason} for s in sorted(inspection.signatures, key=lambda s: s.cert_no)
              if s.voided_at is not None]
    if voided:
        payload["voided_signatures"] = voided
    return payload


def _blob_hash(blob_id: int | None) -> str | None:
    return db.session.scalar(select(Blob.sha256).where(Blob.id == blob_id)) if blob_id else None


def compute_seal(inspection: Inspection) -> str:
    return hashlib.sha256(canonical_json(seal_payload(inspection)).encode("utf-8")).hexdigest()


def seal_intact(inspection: Inspection) -> bool:
    return bool(inspection.seal_hash) and compute_seal(inspection) == inspection.seal_hash


def _parse_date(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip()) if value else local_today()
    except ValueError:
        raise InspectionError("检查日期格式应为 2023-07-04") from None


def _geo(value, low, high):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def dispatch_date(task: Task) -> date:
    """The local date the task was dispatched (the plan's dispatch; the task's creation
    for plans dispatched before that was recorded)."""
    return to_local(task.plan.dispatched_at or task.created_at).date()


def check_inspection_date(task: Task, inspection_date: date) -> None:
    """The inspection date lies between the task's dispatch and today (11.17)."""
    today, dispatched = local_today(), dispatch_date(task)
    if inspection_date > today:
        raise InspectionError(f"检查日期不能晚于今天（{today.isoformat()}）")
    if inspection_date < dispatched:
        raise InspectionError(f"检查日期不能早于任务派发日期（{dispatched.isoformat()}），"
                              f"请填写 {dispatched.isoformat()} 至 {today.isoformat()} 之间的实际检查日期")


def _seal(inspection: Inspection, inspection_date: date, geo: dict | None, actor) -> None:
    check_inspection_date(inspection.task, inspection_date)
    current = {o.officer_id for o in inspection.task.active_officers}
    for signature in inspection.signatures:
        if signature.voided_at is None and signature.officer_id not in current:
            signature.voided_at, signature.void_reason = utcnow(), "签名人已不是本任务的检查人员"
    inspection.inspection_date = inspection_date
    if geo:
        inspection.geo_lat = _geo(geo.get("lat"), -90, 90)
        inspection.geo_lon = _geo(geo.get("lon"), -180, 180)
        inspection.geo_accuracy = _geo(geo.get("accuracy"), 0, 100000)
    inspection.state = InspectionState.SUBMITTED
    inspection.submitted_at = utcnow()
    inspection.submitted_by = actor.username
    inspection.task.state = TaskState.SUBMITTED
    db.session.flush()
    inspection.seal_hash = compute_seal(inspection)
    record("inspection.submitted", inspection,
           details={"task": inspection.task.code, "revision": inspection.revision, "seal": inspection.seal_hash,
                    "conclusion": inspection.conclusion, "not_inspected": inspection.not_inspected_reason,
                    "inspection_date": inspection_date.isoformat()}, user=actor)


def submit(inspection_id: int, inspection_date, actor, geo: dict | None = None) -> Inspection:
    inspection = editable(inspection_id, actor)
    state = status(inspection)
    if state.blockers:
        raise InspectionError("还不能提交：" + "；".join(state.blockers))
    inspection.conclusion = state.conclusion
    inspection.problem_summary = state.summary
    _seal(inspection, _parse_date(inspection_date), geo, actor)
    return inspection


def record_not_inspected(inspection_id: int, reason: str, remark: str, inspection_date, actor) -> Inspection:
    """The enterprise could not be inspected (停产, 转产, 无法联系, ...): recorded and sealed
    instead of the checklist; the task stays listed for later inspection."""
    inspection = editable(inspection_id, actor)
    if reason not in rules.NOT_INSPECTED_REASON_LABELS:
        raise InspectionError("请选择未能检查的原因")
    remark = clean_text(remark)
    if not remark:
        raise InspectionError("请填写情况说明（如现场所见、联系经过）")
    inspection.not_inspected_reason, inspection.not_inspected_remark = reason, remark[:2000]
    inspection.conclusion = ""
    touch_task(inspection)
    _seal(inspection, _parse_date(inspection_date), None, actor)
    return inspection


def _reviewable(inspection_id: int, actor) -> Inspection:
    from ..core.authz import can_edit_unit

    inspection = lock_record(inspection_id)
    if not can_edit_unit(inspection.task.unit_id, actor):
        raise InspectionError("只能审核本单位的检查记录", 403)
    if inspection.state != InspectionState.SUBMITTED:
        raise InspectionError(f"检查记录{inspection.state_label}，不能审核。", 409)
    if not seal_intact(inspection):
        raise InspectionError("检查记录的封存校验不一致，记录可能在提交后被改动，请联系管理员。", 409)
    return inspection


def approve(inspection_id: int, actor) -> Inspection:
    inspection = _reviewable(inspection_id, actor)
    inspection.state = InspectionState.APPROVED
    inspection.reviewed_at, inspection.reviewed_by = utcnow(), actor.username
    inspection.task.state = TaskState.APPROVED
    record("inspection.approved", inspection, details={"task": inspection.task.code, "seal": inspection.seal_hash},
           user=actor)
    # oversight: the follow-up case of a 不合格 or not-inspected record, later inspections,
    # 复查, the registry's production state
    inspection_approved.send(inspection, actor=actor)
    return inspection


def return_for_revision(inspection_id: int, reason: str, actor) -> Inspection:
    """退回: the sealed revision stays readable; a new draft revision copies its content."""
    reason = clean_text(reason)
    if not reason:
        raise InspectionError("退回必须填写理由")
    old = _reviewable(inspection_id, actor)
    old.state = InspectionState.RETURNED
    old.return_reason, old.reviewed_at, old.reviewed_by = reason[:2000], utcnow(), actor.username
    new = Inspection(task_id=old.task_id, revision=old.revision + 1, state=InspectionState.DRAFT, method=old.method, started_at=utcnow(),
                     problem_summary=old.problem_summary, summary_edited=old.summary_edited,
                     self_check_match=old.self_check_match, self_check_note=old.self_check_note,
                     not_inspected_reason="", return_reason="")
    db.session.add(new)
    db.session.flush()
    for a in old.answers:
        db.session.add(Answer(inspection_id=new.id, item_no=a.item_no, record=a.record, conclusion=a.conclusion,
                              remark=a.remark, version=1, updated_at=a.updated_at, updated_by=a.updated_by,
                              updated_by_name=a.updated_by_name))
    for r in old.extra_rows:
        db.session.add(ExtraRow(inspection_id=new.id, position=r.position, project=r.project, record=r.record,
                                conclusion=r.conclusion, remark=r.remark))
    for r in old.equipment_rows:
        db.session.add(EquipmentRow(inspection_id=new.id, position=r.position, name=r.name, model=r.model,
                                    licensed_qty=r.licensed_qty, onsite_qty=r.onsite_qty, status=r.status,
                                    remark=r.remark, from_licence=r.from_licence))
    for p in old.photos:
        db.session.add(Photo(inspection_id=new.id, item_no=p.item_no, blob_id=p.blob_id, thumb_blob_id=p.thumb_blob_id,
                             taken_at=p.taken_at, uploaded_by=p.uploaded_by, sha256=p.sha256))
    old.task.state = TaskState.RETURNED
    record("inspection.returned", old, details={"task": old.task.code, "revision": old.revision, "reason": reason,
                                                "new_revision": new.revision}, user=actor)
    return new
