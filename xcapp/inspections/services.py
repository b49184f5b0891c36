"""What every inspection use case shares: errors, the record lookups, the row lock and
the check that the actor may edit, save keys bound to their content (receipts), and the
record's status (progress, conclusion, what still blocks submission).

Every write locks the inspection row first, so the two officers of a task, a
retried request and a double tap are applied one after the other, never
interleaved; a save whose key was seen before changes nothing. The use cases
themselves: ``answers`` (items, item-12 rows, the equipment table), ``evidence``
(photos, signatures, refusal, self-check and self-report, late additions) and
``lifecycle`` (start, submit and seal, not inspected, review).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from ..audit.services import record
from ..core.timeutil import utcnow
from ..db_setup import insert_new, lock_row
from ..extensions import db
from ..plans.models import Task, TaskOfficer
from ..plans.vocab import TaskState
from . import rules
from .models import Inspection, SaveReceipt, Signature


RECEIPT = SaveReceipt.__table__


class InspectionError(Exception):
    """A refused operation; ``message`` (Chinese) is shown on the card. ``status``: 422 bad
    input, 409 conflict with another officer's newer save, 403 not allowed."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


class Conflict(InspectionError):
    def __init__(self, message: str, answer=None):
        super().__init__(message, 409)
        self.answer = answer


def latest(task: Task) -> Inspection | None:
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task.id)
                             .order_by(Inspection.revision.desc()).limit(1))


def officer_of(user, task: Task) -> TaskOfficer | None:
    """The user's active place on the task, if any."""
    return next((o for o in task.active_officers if o.officer.user_id == user.id), None)


def lock_record(inspection_id: int) -> Inspection:
    inspection = lock_row(db.session, Inspection, inspection_id)
    if inspection is None:
        raise InspectionError("检查记录不存在", 404)
    return inspection


def check_editable(inspection, actor) -> None:
    """The actor is an officer of the record's task and the record is still a draft."""
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以填写检查记录。", 403)
    if not inspection.editable:
        raise InspectionError(f"检查记录{inspection.state_label}，不能再修改。", 409)


def editable(inspection_id: int, actor) -> Inspection:
    inspection = lock_record(inspection_id)
    check_editable(inspection, actor)
    mark_started(inspection, actor)   # a write before the queued 开始检查 arrived starts it too
    return inspection


def answers_map(inspection: Inspection) -> dict[int, rules.AnswerValue]:
    return {a.item_no: rules.AnswerValue(a.record or None, a.conclusion or None) for a in inspection.answers}


def remarks_map(inspection: Inspection) -> dict[int, str]:
    return {a.item_no: a.remark for a in inspection.answers if a.remark}


def rows_for_rules(inspection: Inspection) -> list[rules.ExtraRowValue]:
    return [rules.ExtraRowValue(r.project, r.record, r.conclusion or None, r.remark) for r in inspection.extra_rows]


@dataclass
class Status:
    filled: int
    total: int
    missing: list[int]
    conclusion: str | None          # rules.PASS / rules.FAIL / None while incomplete
    early_fail: bool
    summary: str                    # the stored (edited) or the computed problem summary
    equipment_ok: bool
    signed: int
    enterprise_ok: bool
    blockers: list[str]


def counted_signatures(inspection: Inspection) -> list[Signature]:
    """The signatures that count (status, submit, seal, PDF): not voided, and of an
    officer who is on the task now. A replaced officer's signature never counts."""
    current = {o.officer_id for o in inspection.task.active_officers}
    return [s for s in inspection.signatures if s.voided_at is None and s.officer_id in current]


def status(inspection: Inspection) -> Status:
    answers, rows = answers_map(inspection), rows_for_rules(inspection)
    missing, conclusion, failed = rules.verdict(answers, rows)
    remarks = remarks_map(inspection)
    computed = rules.problem_summary(answers, rows, remarks)
    summary = inspection.problem_summary if inspection.summary_edited else computed
    counted = [s for s in counted_signatures(inspection) if s.certificate_shown]
    signed = len(counted)
    officers = inspection.task.active_officers
    current_certs = {o.cert_no for o in officers}
    attested = set(json.loads(inspection.refusal_attested_by or "[]")) & current_certs
    enterprise_ok = bool(inspection.enterprise_signature_id and inspection.enterprise_rep) or (
        inspection.refused and len(attested) >= 2)
    blockers = []
    if missing:
        blockers.append("尚未填写：" + "、".join(f"第{n}项" for n in missing))
    blockers.extend(rules.contradictions(answers, remarks))
    if inspection.equipment_confirmed_at is None:
        blockers.append("关键生产设备表尚未确认")
    required = 2
    if signed < required:
        have = {s.officer_id for s in counted}
        unsigned = "、".join(o.officer.name for o in officers if o.officer_id not in have)
        blockers.append(f"检查人员签名 {signed}/{required}（每人须确认已出示执法证件）"
                        + (f"，尚未签名：{unsigned}" if unsigned else ""))
    if not enterprise_ok:
        blockers.append("企业尚未签字，也未记录拒绝签字")
    return Status(rules.TOTAL_ITEMS - len(missing), rules.TOTAL_ITEMS, missing, conclusion, failed, summary,
                  inspection.equipment_confirmed_at is not None, signed, enterprise_ok, blockers)


def mark_started(inspection: Inspection, actor, audit=record) -> bool:
    """A write before the queued 开始检查 arrived starts the record too; True when it did
    (``started_at`` set on the object, for the caller to store)."""
    if inspection.started_at is not None:
        return False
    inspection.started_at = utcnow()
    audit("inspection.started", inspection, details={"task": inspection.task.code}, user=actor)
    return True


def touch_task(inspection: Inspection) -> dict:
    """The first answer puts the task in progress. Returns the task's changed columns
    (set on the object too, for the caller to store)."""
    task, changes = inspection.task, {}
    if task.first_answer_at is None:
        changes["first_answer_at"] = utcnow()
    if task.state in (TaskState.PENDING, TaskState.RETURNED) and inspection.revision == 1:
        changes["state"] = TaskState.IN_PROGRESS
    for column, value in changes.items():
        setattr(task, column, value)
    return changes


class SaveKey(str):
    """A client's save key with the SHA-256 of the content it was sent with (computed by
    the route from the request). A plain ``str`` key has the empty content hash."""

    content: str = ""

    def __new__(cls, key: str, content: str = ""):
        self = super().__new__(cls, key)
        self.content = content
        return self


KEY_REUSED = "此保存编号已用于不同的内容，请重新保存（页面会自动用新的编号重试）。"


class KeyReused(InspectionError):
    """Same key, different content (or another record): refused, the client retries
    with a new key."""

    def __init__(self):
        super().__init__(KEY_REUSED, 409)


def seen_before(inspection: Inspection, key: str | None, target: str) -> bool:
    """True when this exact save was applied before (same key, same record, same target,
    same content): the caller changes nothing. Raises KeyReused when the key was used
    for anything else. The receipt is stored at once (one statement when the key is new)."""
    receipt = receipt_row(inspection.id, key, target)
    if receipt is None:
        return False
    if insert_new(db.session.connection(), RECEIPT, receipt):
        return False
    return applied_before(receipt)


def receipt_row(inspection_id: int, key: str | None, target: str) -> dict | None:
    """The receipt a save with ``key`` stores (None without a key)."""
    if not key:
        return None
    return dict(key=str(key)[:64], inspection_id=inspection_id, target=target,
                content_sha256=getattr(key, "content", ""), at=utcnow())


def applied_before(receipt: dict) -> bool:
    """``receipt``'s key is stored already: True when by this exact save (see
    ``seen_before``), else KeyReused."""
    seen = db.session.connection().execute(select(RECEIPT).where(RECEIPT.c.key == receipt["key"])).first()
    if (seen.inspection_id, seen.target, seen.content_sha256 or "") == (
            receipt["inspection_id"], receipt["target"], receipt["content_sha256"]):
        return True
    raise KeyReused()


def claim_key(inspection_id: int, key: str | None, target: str, actor) -> bool:
    """For writes without a key of their own (signatures, refusal, submit, ...): lock the
    record and record the key; True when this exact write was applied before."""
    if not key:
        return False
    inspection = lock_record(inspection_id)
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以填写检查记录。", 403)
    return seen_before(inspection, key, target)
