"""Inspection use cases: start, save an item (idempotent, version-checked), item-12
rows, the equipment table, photos, signatures, refusal, submit and seal, review.

Every write locks the inspection row first, so the two officers of a task, a
retried request and a double tap are applied one after the other, never
interleaved; a save whose key was seen before changes nothing.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from ..audit.services import canonical_json, record
from ..core import slow
from ..core.signals import inspection_approved
from ..core.text import clean_text
from ..core.timeutil import CST, local_today, to_local, utcnow
from ..db_setup import lock_row
from ..extensions import db
from ..plans.models import (TASK_APPROVED, TASK_IN_PROGRESS, TASK_PENDING, TASK_RETURNED, TASK_SUBMITTED, Task,
                            TaskOfficer)
from ..registry.models import Officer
from . import rules
from .display import remember_person
from .images import ImageBusy, ImageRejected, decode_data_url, decode_slot, process_photo, validate_signature_png
from .models import (ADDITION_SELF_REPORT, ADDITION_STAMP, APPROVED, DRAFT, RETURNED, SELF_CHECK_MATCH, SUBMITTED,
                     Answer, Blob, EquipmentRow, ExtraRow, Inspection, Photo, RecordAddition, SaveReceipt, SelfReport,
                     Signature)

MAX_REPORT_BYTES = 10 * 1024 * 1024
REPORT_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


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


# ------------------------------------------------------------------ lookups

def latest(task: Task) -> Inspection | None:
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task.id)
                             .order_by(Inspection.revision.desc()).limit(1))


def officer_of(user, task: Task) -> TaskOfficer | None:
    """The user's active place on the task, if any."""
    return next((o for o in task.active_officers if o.officer.user_id == user.id), None)


def _lock(inspection_id: int, options=()) -> Inspection:
    fresh_load = bool(options) and db.session.get_bind().dialect.name != "sqlite"
    inspection = lock_row(db.session, Inspection, inspection_id, () if fresh_load else options)
    if inspection is None:
        raise InspectionError("检查记录不存在", 404)
    if fresh_load:
        # PostgreSQL returns the rows joined to a locking statement as they were before
        # the lock was granted (another officer's answer just committed would be missed);
        # what the caller reads is loaded after the lock, by a statement of its own.
        db.session.execute(select(Inspection).where(Inspection.id == inspection_id).options(*options)
                           .execution_options(populate_existing=True)).unique().scalar_one()
    return inspection


# What an item save and its response read, loaded under the lock in two statements
# (the row with its task, officers, answers and signatures joined: at most 12 x 3 x 3
# rows; the item-12 rows), instead of one lazy load each.
def _save_loads() -> tuple:
    return (joinedload(Inspection.answers), joinedload(Inspection.task).joinedload(Task.officers),
            joinedload(Inspection.signatures), selectinload(Inspection.extra_rows))


def _editable(inspection_id: int, actor, options=()) -> Inspection:
    inspection = _lock(inspection_id, options)
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以填写检查记录。", 403)
    if not inspection.editable:
        raise InspectionError(f"检查记录{inspection.state_label}，不能再修改。", 409)
    _mark_started(inspection, actor)   # a write before the queued 开始检查 arrived starts it too
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
    filled, total = rules.progress(answers, rows)
    missing = rules.missing_items(answers, rows)
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
    return Status(filled, total, missing, rules.overall_conclusion(answers, rows),
                  rules.overall_conclusion(answers, rows, early_fail=True) == rules.FAIL, summary,
                  inspection.equipment_confirmed_at is not None, signed, enterprise_ok, blockers)


# ------------------------------------------------------------------ start

def start(task_id: int, actor) -> Inspection:
    """Open the first revision of a task's record, pre-filling the equipment table; a
    record prepared for offline use is started now. Tapping it again (or the other
    officer's tap, or the phone's queued tap arriving late) opens the same record."""
    task = lock_row(db.session, Task, task_id)
    if task is None or officer_of(actor, task) is None:
        raise InspectionError("只有本任务的检查人员可以开始检查。", 403)
    existing = latest(task)
    if existing is not None:
        _mark_started(existing, actor)
        return existing
    return _open_record(task, actor, started=True)


def _open_record(task: Task, actor, started: bool) -> Inspection:
    inspection = Inspection(task_id=task.id, revision=1, state=DRAFT, started_at=utcnow() if started else None)
    db.session.add(inspection)
    db.session.flush()
    for position, item in enumerate(task.enterprise.equipment):
        db.session.add(EquipmentRow(inspection_id=inspection.id, position=position, name=item.name,
                                    model=item.model, licensed_qty=item.quantity, from_licence=True))
    record("inspection.started" if started else "inspection.prepared", inspection,
           details={"task": task.code}, user=actor)
    return inspection


def _mark_started(inspection: Inspection, actor) -> None:
    if inspection.started_at is None:
        inspection.started_at = utcnow()
        record("inspection.started", inspection, details={"task": inspection.task.code}, user=actor)


def prepare_for_offline(actor) -> list[int]:
    """Records for the actor's tasks still 待检查, prepared (not started) so that their
    checklists can be cached on the phone and 开始检查 works without network. Returns
    the ids of the tasks prepared now."""
    task_ids = db.session.scalars(
        select(Task.id).join(TaskOfficer, TaskOfficer.task_id == Task.id)
        .join(Officer, Officer.id == TaskOfficer.officer_id)
        .where(Officer.user_id == actor.id, TaskOfficer.active, Task.state == TASK_PENDING,
               ~select(Inspection.id).where(Inspection.task_id == Task.id).exists())
        .order_by(Task.id).distinct()).all()
    prepared = []
    for task_id in task_ids:
        task = lock_row(db.session, Task, task_id)
        if task is None or task.state != TASK_PENDING or officer_of(actor, task) is None or latest(task) is not None:
            continue
        _open_record(task, actor, started=False)
        prepared.append(task_id)
    return prepared


def _touch_task(inspection: Inspection) -> None:
    task = inspection.task
    if task.first_answer_at is None:
        task.first_answer_at = utcnow()
    if task.state in (TASK_PENDING, TASK_RETURNED) and inspection.revision == 1:
        task.state = TASK_IN_PROGRESS


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


def _receipt(inspection: Inspection, key: str | None, target: str) -> bool:
    """True when this exact save was applied before (same key, same record, same target,
    same content): the caller changes nothing. Raises KeyReused when the key was used
    for anything else."""
    if not key:
        return False
    content = getattr(key, "content", "")
    key = str(key)[:64]
    seen = db.session.get(SaveReceipt, key)
    if seen is not None:
        if (seen.inspection_id, seen.target, seen.content_sha256 or "") == (inspection.id, target, content):
            return True
        raise KeyReused()
    db.session.add(SaveReceipt(key=key, inspection_id=inspection.id, target=target, content_sha256=content))
    return False


def claim_key(inspection_id: int, key: str | None, target: str, actor) -> bool:
    """For writes without a key of their own (signatures, refusal, submit, ...): lock the
    record and record the key; True when this exact write was applied before."""
    if not key:
        return False
    inspection = _lock(inspection_id)
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以填写检查记录。", 403)
    return _receipt(inspection, key, target)


# ------------------------------------------------------------------ items

def save_answer(inspection_id: int, item_no: int, data: dict, actor, *, base_version: int | None = None,
                key: str | None = None) -> tuple[Inspection, Answer, bool]:
    """Apply the fields present in ``data`` (record: list of codes, conclusion, remark).

    Returns (inspection, answer, replayed). Raises Conflict when another officer saved
    this item after the version the client started from.
    """
    if item_no not in rules.ALL_ITEMS:
        raise InspectionError("检查项目序号无效", 404)
    inspection = _editable(inspection_id, actor, _save_loads())
    remember_person(actor.username, officer_of(actor, inspection.task).officer.name)   # shown as the saver
    answer = inspection.answer(item_no)
    if _receipt(inspection, key, f"item:{item_no}"):
        return inspection, answer, True
    if answer is None:
        answer = Answer(inspection_id=inspection.id, item_no=item_no, version=0)
        db.session.add(answer)
        inspection.answers.append(answer)
    if (base_version is not None and answer.version != base_version and answer.updated_by
            and answer.updated_by != actor.username):
        raise Conflict(f"{answer.updated_by_name or answer.updated_by} 刚刚修改了此项，已显示最新内容，"
                       "请确认后再修改。", answer)
    old_record = answer.record or None
    new_record = answer.record
    if "record" in data:
        codes = rules.normalize_record(item_no, data["record"]) if data["record"] else ()
        new_record = rules.record_to_str(codes)
    conclusion = answer.conclusion
    if item_no == rules.EXTRA_ITEM_NO:
        if "conclusion" in data:
            conclusion = data["conclusion"] or ""
    else:
        # The proposal follows the record unless the officer chose the conclusion (11.16).
        conclusion = rules.next_conclusion(item_no, old_record, new_record or None, answer.conclusion or None,
                                           (data["conclusion"] or "") if "conclusion" in data else None)
    remark = clean_text(data["remark"]) if "remark" in data else (answer.remark or "")
    remark_error = rules.too_long(f"第{item_no}项备注", remark, rules.MAX_ITEM_REMARK) if "remark" in data else None
    if remark_error:
        raise InspectionError(remark_error)
    if item_no == rules.EXTRA_ITEM_NO:
        errors = rules.validate_item12({12: rules.AnswerValue(new_record or None, conclusion or None)},
                                       rows_for_rules(inspection))
    else:
        errors = rules.validate_answer(item_no, new_record or None, conclusion or None) or [
            e for e in (rules.contradiction(item_no, new_record or None, conclusion or None, remark),) if e]
    if errors:
        raise InspectionError("；".join(errors))
    answer.record = new_record or ""
    answer.conclusion = conclusion or ""
    answer.remark = remark
    answer.version = (answer.version or 0) + 1
    answer.updated_at = utcnow()
    answer.updated_by = actor.username
    answer.updated_by_name = actor.name
    _touch_task(inspection)
    db.session.flush()
    record("inspection.answer_saved", inspection,
           details={"task": inspection.task.code, "item": item_no, "record": answer.record,
                    "conclusion": answer.conclusion, "remark": answer.remark, "version": answer.version},
           user=actor)
    return inspection, answer, False


CLIENT_REF = re.compile(r"[0-9a-f]{16}")


def _client_ref(value: str, rows) -> bool:
    """Checks the phone's reference of a new row; True when that row exists already
    (the add arrived before, e.g. under another key)."""
    if not value:
        return False
    if not CLIENT_REF.fullmatch(value):
        raise InspectionError("新增行的编号无效，请刷新页面后重试。")
    return any(r.client_ref == value for r in rows)


def add_extra_row(inspection_id: int, actor, key: str | None = None, client_ref: str = "") -> Inspection:
    inspection = _editable(inspection_id, actor)
    if _receipt(inspection, key, "extra:add") or _client_ref(client_ref, inspection.extra_rows):
        return inspection
    if len(inspection.extra_rows) >= rules.MAX_EXTRA_ROWS:
        raise InspectionError(rules.extra_rows_full_message())
    marker = inspection.answer(rules.EXTRA_ITEM_NO)
    if marker is not None and marker.record == rules.NO_EXTRA_ITEMS:
        marker.record, marker.conclusion = "", ""
    position = max((r.position for r in inspection.extra_rows), default=-1) + 1
    row = ExtraRow(inspection_id=inspection.id, position=position, updated_at=utcnow(), updated_by=actor.username,
                   client_ref=client_ref)
    db.session.add(row)
    inspection.extra_rows.append(row)
    _touch_task(inspection)
    db.session.flush()
    record("inspection.extra_row_added", inspection, details={"task": inspection.task.code, "row": row.id}, user=actor)
    return inspection


def save_extra_row(inspection_id: int, row_id: int, data: dict, actor, key: str | None = None) -> Inspection:
    inspection = _editable(inspection_id, actor)
    row = next((r for r in inspection.extra_rows if r.id == row_id), None)
    if row is None:
        raise InspectionError("该行不存在", 404)
    if _receipt(inspection, key, f"extra:{row_id}"):
        return inspection
    conclusion = data.get("conclusion", row.conclusion) or ""
    if conclusion and conclusion not in rules.CONCLUSIONS:
        raise InspectionError("单项检查结论无效")
    cleaned = {field: clean_text(data[field]) for field in ("project", "record", "remark") if field in data}
    errors = rules.extra_row_field_errors(cleaned)
    if errors:
        raise InspectionError("；".join(errors))
    for field, value in cleaned.items():
        setattr(row, field, value)
    row.conclusion = conclusion
    row.updated_at, row.updated_by = utcnow(), actor.username
    db.session.flush()
    record("inspection.extra_row_saved", inspection,
           details={"task": inspection.task.code, "row": row.id, "project": row.project, "record": row.record,
                    "conclusion": row.conclusion}, user=actor)
    return inspection


def delete_extra_row(inspection_id: int, row_id: int, actor) -> Inspection:
    inspection = _editable(inspection_id, actor)
    row = next((r for r in inspection.extra_rows if r.id == row_id), None)
    if row is not None:
        inspection.extra_rows.remove(row)
        db.session.delete(row)
        record("inspection.extra_row_deleted", inspection, details={"task": inspection.task.code, "row": row_id},
               user=actor)
    return inspection


def save_summary(inspection_id: int, text: str, actor) -> Inspection:
    inspection = _editable(inspection_id, actor)
    text = clean_text(text)
    errors = rules.summary_errors(text)
    if errors:
        raise InspectionError("；".join(errors))
    inspection.problem_summary = text
    inspection.summary_edited = True
    record("inspection.summary_saved", inspection, details={"task": inspection.task.code}, user=actor)
    return inspection


# ------------------------------------------------------------------ equipment

def _int_or_none(value, label: str) -> int | None:
    text = clean_text(value)
    if not text:
        return None
    if not text.isdigit() or int(text) > 100000:
        raise InspectionError(f"{label}应为 0 到 100000 之间的整数")
    return int(text)


def save_equipment_row(inspection_id: int, row_id: int, data: dict, actor, key: str | None = None) -> Inspection:
    inspection = _editable(inspection_id, actor)
    row = next((r for r in inspection.equipment_rows if r.id == row_id), None)
    if row is None:
        raise InspectionError("该设备行不存在", 404)
    if _receipt(inspection, key, f"equipment:{row_id}"):
        return inspection
    if "onsite_qty" in data:
        row.onsite_qty = _int_or_none(data["onsite_qty"], "现场数量")
    if "status" in data:
        if data["status"] and data["status"] not in rules.EQUIPMENT_STATUS_LABELS:
            raise InspectionError("设备状态无效")
        row.status = data["status"] or ""
    for field in ("name", "model") if not row.from_licence else ():
        if field in data:
            setattr(row, field, clean_text(data[field])[:100])
    if "remark" in data:
        remark = clean_text(data["remark"])
        error = rules.too_long("设备备注", remark, rules.MAX_EQUIPMENT_REMARK)
        if error:
            raise InspectionError(error)
        row.remark = remark
    row.updated_at, row.updated_by = utcnow(), actor.username
    inspection.equipment_confirmed_at = None  # a changed table is confirmed again
    _touch_task(inspection)
    db.session.flush()
    record("inspection.equipment_saved", inspection,
           details={"task": inspection.task.code, "row": row.id, "onsite_qty": row.onsite_qty, "status": row.status},
           user=actor)
    return inspection


def add_equipment_row(inspection_id: int, actor, key: str | None = None, client_ref: str = "") -> Inspection:
    inspection = _editable(inspection_id, actor)
    if _receipt(inspection, key, "equipment:add") or _client_ref(client_ref, inspection.equipment_rows):
        return inspection
    if len(inspection.equipment_rows) >= rules.MAX_EQUIPMENT_ROWS:
        raise InspectionError(f"关键生产设备表最多 {rules.MAX_EQUIPMENT_ROWS} 行")
    position = max((r.position for r in inspection.equipment_rows), default=-1) + 1
    row = EquipmentRow(inspection_id=inspection.id, position=position, from_licence=False,
                       status=rules.EQUIP_ADDED, updated_at=utcnow(), updated_by=actor.username, client_ref=client_ref)
    db.session.add(row)
    inspection.equipment_rows.append(row)
    inspection.equipment_confirmed_at = None
    db.session.flush()
    record("inspection.equipment_added", inspection, details={"task": inspection.task.code, "row": row.id},
           user=actor)
    return inspection


def confirm_equipment(inspection_id: int, actor) -> Inspection:
    inspection = _editable(inspection_id, actor)
    problems = []
    for i, row in enumerate(inspection.equipment_rows, 1):
        label = row.name or f"第{i}行"
        if not row.name:
            problems.append(f"第{i}行缺少设备名称")
        if not row.status:
            problems.append(f"{label}：请选择状态")
        if row.onsite_qty is None and row.status != rules.EQUIP_RETIRED:
            problems.append(f"{label}：请填写现场数量")
    if problems:
        raise InspectionError("设备表未完成：" + "；".join(problems))
    inspection.equipment_confirmed_at = utcnow()
    inspection.equipment_confirmed_by = actor.username
    record("inspection.equipment_confirmed", inspection,
           details={"task": inspection.task.code, "rows": len(inspection.equipment_rows),
                    "changes": rules.equipment_change_notes(_equipment_for_rules(inspection))}, user=actor)
    return inspection


def _equipment_for_rules(inspection: Inspection) -> list[dict]:
    return [{"name": r.name, "status": r.status, "licensed_qty": r.licensed_qty, "onsite_qty": r.onsite_qty}
            for r in inspection.equipment_rows]


def equipment_warning(inspection: Inspection) -> str | None:
    answer = inspection.answer(2)
    return rules.item2_equipment_warning(answer.record if answer else None, _equipment_for_rules(inspection))


# ------------------------------------------------------------------ files

def store_blob(data: bytes, content_type: str, actor, filename: str = "", sha256: str | None = None) -> Blob:
    blob = Blob(sha256=sha256 or hashlib.sha256(data).hexdigest(), content_type=content_type, size=len(data), data=data,
                filename=filename[:200], created_by=actor.username if actor else "")
    db.session.add(blob)
    db.session.flush()
    return blob


CAPTURE_CLOCK_SKEW = timedelta(minutes=10)   # a phone's clock a little ahead of the server's


def capture_time(value: str | None, plan_year: int | None) -> datetime | None:
    """The capture time the phone sent (``captured_at``: the camera's local wall-clock
    time, ISO ``YYYY-MM-DDTHH:MM:SS``, read from EXIF before the phone re-encoded the
    photo, or the file's time), as stored for EXIF times: naive local time. A value that
    is malformed, in the future or before the plan's year is not stored (the photo is:
    a wrong phone clock never costs a photo)."""
    if not value:
        return None
    try:
        taken = datetime.fromisoformat(value.strip()[:32])
    except ValueError:
        return None
    if taken.tzinfo is not None:
        taken = taken.astimezone(CST)
    taken = taken.replace(tzinfo=None, microsecond=0)
    now = datetime.now(CST).replace(tzinfo=None)
    if taken > now + CAPTURE_CLOCK_SKEW or (plan_year and taken.year < plan_year):
        return None
    return taken


def _process_photo(data: bytes, captured_at: datetime | None = None):
    """Decode, resize and hash a photo (slow: call it before taking any lock). At most
    ``PHOTO_DECODE_SLOTS`` photos are decoded at once per process; a photo that finds
    every slot busy for ``PHOTO_DECODE_WAIT_S`` is refused with 503 (retry)."""
    from flask import current_app, has_app_context

    config = current_app.config if has_app_context() else {}
    try:
        with decode_slot(config.get("PHOTO_DECODE_SLOTS", 1), config.get("PHOTO_DECODE_WAIT_S", 5.0)):
            return slow.run(process_photo, data, captured_at=captured_at)
    except ImageBusy as exc:
        raise InspectionError(exc.message, 503) from exc
    except ImageRejected as exc:
        raise InspectionError(exc.message) from exc


def add_photo(inspection_id: int, item_no: int, data: bytes, actor, key: str | None = None,
              captured_at: str | None = None) -> Photo | None:
    if not 0 <= item_no <= rules.TOTAL_ITEMS:
        raise InspectionError("检查项目序号无效", 404)
    seen = db.session.get(Inspection, inspection_id) if captured_at else None
    captured = capture_time(captured_at, seen.task.plan.year if seen is not None else None)
    processed = _process_photo(data, captured)   # before any lock (routes use @late_write_lock)
    inspection = _editable(inspection_id, actor)
    if _receipt(inspection, key, f"photo:{item_no}"):
        return None
    full = store_blob(processed.jpeg, "image/jpeg", actor, sha256=processed.sha256)
    thumb = store_blob(processed.thumb, "image/jpeg", actor, sha256=processed.thumb_sha256)
    photo = Photo(inspection_id=inspection.id, item_no=item_no, blob_id=full.id, thumb_blob_id=thumb.id,
                  taken_at=processed.taken_at, uploaded_by=actor.username, sha256=processed.sha256)
    db.session.add(photo)
    inspection.photos.append(photo)
    _touch_task(inspection)
    db.session.flush()
    record("inspection.photo_added", inspection,
           details={"task": inspection.task.code, "item": item_no, "sha256": processed.sha256}, user=actor)
    return photo


def attach_stamp(inspection_id: int, data: bytes, actor) -> Inspection:
    """After signing: a photo of the printed form bearing the enterprise's stamp, appended
    to the sealed record as a late addition (its own hash, time and author); the
    sealed record itself never changes (11.7)."""
    processed = _process_photo(data)
    inspection = _lock(inspection_id)
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以上传盖章页。", 403)
    if inspection.state not in (SUBMITTED, APPROVED):
        raise InspectionError("请在提交（签字）之后再上传盖章页照片。")
    blob = store_blob(processed.jpeg, "image/jpeg", actor, "stamp.jpg", sha256=processed.sha256)
    addition = _add_addition(inspection, ADDITION_STAMP, actor, blob=blob)
    record("inspection.stamp_attached", inspection,
           details={"task": inspection.task.code, "sha256": blob.sha256, "addition": addition.id}, user=actor)
    return inspection


def _add_addition(inspection: Inspection, kind: str, actor, *, blob: Blob | None = None, text: str = "",
                  filename: str = "") -> RecordAddition:
    digest = hashlib.sha256()
    digest.update((blob.sha256 if blob else "").encode("ascii"))
    digest.update(text.encode("utf-8"))
    addition = RecordAddition(inspection_id=inspection.id, kind=kind, blob_id=blob.id if blob else None, text=text,
                              filename=filename[:200], sha256=blob.sha256 if blob and not text else digest.hexdigest(),
                              added_at=utcnow(), added_by=actor.username if actor else "",
                              added_by_name=(getattr(actor, "name", "") or "")[:64])
    db.session.add(addition)
    inspection.additions.append(addition)
    db.session.flush()
    return addition


def _sealed_revision_exists(task_id: int) -> bool:
    return db.session.scalar(select(Inspection.id).where(Inspection.task_id == task_id, Inspection.seal_hash != "")
                             .limit(1)) is not None


def save_self_report(task_id: int, text: str, upload: tuple[bytes, str] | None, actor) -> SelfReport | RecordAddition:
    """The enterprise's self-report. Once a revision of the task's record was submitted,
    the report it was sealed with never changes: a later one is appended to the latest
    revision as a late addition (11.7)."""
    task = lock_row(db.session, Task, task_id)
    text = clean_text(text)
    if len(text) > 20000:
        raise InspectionError(f"自查报告内容最多 20000 个字（现有 {len(text)} 个字）")
    if _sealed_revision_exists(task_id):
        return _late_self_report(task, text, upload, actor)
    report = db.session.get(SelfReport, task_id) or SelfReport(task_id=task_id)
    report.text = text
    blob = _report_blob(upload, actor)
    if blob is not None:
        report.blob_id, report.filename = blob.id, upload[1][:200]
    if not report.text and not report.blob_id:
        raise InspectionError("请填写自查报告内容或上传文件")
    report.entered_by, report.entered_at = actor.username, utcnow()
    db.session.add(report)
    record("task.self_report_saved", task, details={"task": task.code, "file": report.filename}, user=actor)
    return report


def _report_blob(upload: tuple[bytes, str] | None, actor) -> Blob | None:
    if upload is None or not upload[0]:
        return None
    data, filename = upload
    ext = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in REPORT_TYPES:
        raise InspectionError("自查报告文件只支持 PDF、JPEG 或 PNG")
    if len(data) > MAX_REPORT_BYTES:
        raise InspectionError("自查报告文件超过 10 MB")
    magic = {".pdf": b"%PDF", ".png": b"\x89PNG", ".jpg": b"\xff\xd8", ".jpeg": b"\xff\xd8"}[ext]
    if not data.startswith(magic):
        raise InspectionError("文件内容与扩展名不符，请上传真实的 PDF 或图片文件")
    return store_blob(data, REPORT_TYPES[ext], actor, filename)


def _late_self_report(task: Task, text: str, upload, actor) -> RecordAddition:
    inspection = lock_row(db.session, Inspection, latest(task).id)
    blob = _report_blob(upload, actor)
    if not text and blob is None:
        raise InspectionError("请填写自查报告内容或上传文件")
    addition = _add_addition(inspection, ADDITION_SELF_REPORT, actor, blob=blob, text=text,
                             filename=upload[1] if blob is not None else "")
    record("inspection.self_report_added", inspection,
           details={"task": task.code, "revision": inspection.revision, "sha256": addition.sha256,
                    "file": addition.filename, "addition": addition.id}, user=actor)
    return addition


def save_self_check(inspection_id: int, match: str, note: str, actor) -> Inspection:
    inspection = _editable(inspection_id, actor)
    if match not in SELF_CHECK_MATCH:
        raise InspectionError("请选择自查报告与实际情况的符合性")
    inspection.self_check_match, inspection.self_check_note = match, clean_text(note)[:2000]
    record("inspection.self_check_saved", inspection, details={"task": inspection.task.code, "match": match},
           user=actor)
    return inspection


# ------------------------------------------------------------------ signatures

def sign_officer(inspection_id: int, officer_id: int, certificate_shown: bool, data_url: str, actor) -> Signature:
    inspection = _editable(inspection_id, actor)
    place = next((o for o in inspection.task.active_officers if o.officer_id == officer_id), None)
    if place is None:
        raise InspectionError("该人员不是本任务的检查人员")
    if not certificate_shown:
        raise InspectionError(f"{place.officer.name}：请先确认已向企业出示执法证件")
    try:
        png = validate_signature_png(decode_data_url(data_url))
    except ImageRejected as exc:
        raise InspectionError(f"{place.officer.name}：{exc.message}") from exc
    blob = store_blob(png, "image/png", actor, "signature.png")
    existing = next((s for s in inspection.signatures if s.officer_id == officer_id), None)
    if existing is not None:
        inspection.signatures.remove(existing)
        db.session.delete(existing)
        db.session.flush()
    signature = Signature(inspection_id=inspection.id, officer_id=officer_id, cert_no=place.cert_no,
                          certificate_shown=True, blob_id=blob.id, sha256=blob.sha256, recorded_by=actor.username)
    db.session.add(signature)
    inspection.signatures.append(signature)
    db.session.flush()
    record("inspection.officer_signed", inspection,
           details={"task": inspection.task.code, "officer": place.cert_no, "sha256": blob.sha256}, user=actor)
    return signature


def sign_enterprise(inspection_id: int, opinion: str, representative: str, data_url: str, actor) -> Inspection:
    inspection = _editable(inspection_id, actor)
    representative = clean_text(representative)
    if not representative:
        raise InspectionError("请填写企业负责人/代表姓名")
    try:
        png = validate_signature_png(decode_data_url(data_url))
    except ImageRejected as exc:
        raise InspectionError(f"企业代表：{exc.message}") from exc
    blob = store_blob(png, "image/png", actor, "enterprise-signature.png")
    inspection.enterprise_opinion = clean_text(opinion)[:2000]
    inspection.enterprise_rep = representative[:40]
    inspection.enterprise_signature_id = blob.id
    inspection.enterprise_signed_at = utcnow()
    inspection.refused, inspection.refusal_reason, inspection.refusal_at = False, "", None
    inspection.refusal_attested_by = "[]"
    record("inspection.enterprise_signed", inspection,
           details={"task": inspection.task.code, "representative": representative, "sha256": blob.sha256},
           user=actor)
    return inspection


def record_refusal(inspection_id: int, reason: str, attested: list[int], actor) -> Inspection:
    """被检查对象拒绝签字: recorded with the reason, the time and both officers' attestation."""
    inspection = _editable(inspection_id, actor)
    reason = clean_text(reason)
    if not reason:
        raise InspectionError("请如实记录企业拒绝签字的情况（理由）")
    places = {o.officer_id: o for o in inspection.task.active_officers}
    certs = sorted({places[i].cert_no for i in attested if i in places})
    if len(certs) < 2:
        raise InspectionError("拒绝签字须由两名检查人员共同确认")
    inspection.refused, inspection.refusal_reason, inspection.refusal_at = True, reason[:2000], utcnow()
    inspection.refusal_attested_by = json.dumps(certs, ensure_ascii=False)
    inspection.enterprise_signature_id, inspection.enterprise_signed_at = None, None
    record("inspection.enterprise_refused", inspection,
           details={"task": inspection.task.code, "reason": reason, "attested_by": certs}, user=actor)
    return inspection


def void_signatures_of(task: Task, officer_id: int, reason: str, actor, **_) -> int:
    """An officer was replaced on the task: their signatures on unsubmitted revisions are
    voided (kept and shown as 已作废 with the reason, never counted or sealed as an
    officer's signature). Returns how many."""
    rows = db.session.scalars(
        select(Signature).join(Inspection, Inspection.id == Signature.inspection_id)
        .where(Inspection.task_id == task.id, Inspection.state == DRAFT, Signature.officer_id == officer_id,
               Signature.voided_at.is_(None))).all()
    now = utcnow()
    for signature in rows:
        signature.voided_at = now
        signature.void_reason = f"检查人员已更换（{reason}），此签名作废"[:2000]
        record("inspection.signature_voided", db.session.get(Inspection, signature.inspection_id),
               details={"task": task.code, "officer": signature.cert_no, "sha256": signature.sha256,
                        "reason": reason}, user=actor)
    return len(rows)


# ------------------------------------------------------------------ submit and seal

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
    inspection.state = SUBMITTED
    inspection.submitted_at = utcnow()
    inspection.submitted_by = actor.username
    inspection.task.state = TASK_SUBMITTED
    db.session.flush()
    inspection.seal_hash = compute_seal(inspection)
    record("inspection.submitted", inspection,
           details={"task": inspection.task.code, "revision": inspection.revision, "seal": inspection.seal_hash,
                    "conclusion": inspection.conclusion, "not_inspected": inspection.not_inspected_reason,
                    "inspection_date": inspection_date.isoformat()}, user=actor)


def submit(inspection_id: int, inspection_date, actor, geo: dict | None = None) -> Inspection:
    inspection = _editable(inspection_id, actor)
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
    inspection = _editable(inspection_id, actor)
    if reason not in rules.NOT_INSPECTED_REASON_LABELS:
        raise InspectionError("请选择未能检查的原因")
    remark = clean_text(remark)
    if not remark:
        raise InspectionError("请填写情况说明（如现场所见、联系经过）")
    inspection.not_inspected_reason, inspection.not_inspected_remark = reason, remark[:2000]
    inspection.conclusion = ""
    _touch_task(inspection)
    _seal(inspection, _parse_date(inspection_date), None, actor)
    return inspection


# ------------------------------------------------------------------ review

def _reviewable(inspection_id: int, actor) -> Inspection:
    from ..core.authz import can_edit_unit

    inspection = _lock(inspection_id)
    if not can_edit_unit(inspection.task.unit_id, actor):
        raise InspectionError("只能审核本单位的检查记录", 403)
    if inspection.state != SUBMITTED:
        raise InspectionError(f"检查记录{inspection.state_label}，不能审核。", 409)
    if not seal_intact(inspection):
        raise InspectionError("检查记录的封存校验不一致，记录可能在提交后被改动，请联系管理员。", 409)
    return inspection


def approve(inspection_id: int, actor) -> Inspection:
    inspection = _reviewable(inspection_id, actor)
    inspection.state = APPROVED
    inspection.reviewed_at, inspection.reviewed_by = utcnow(), actor.username
    inspection.task.state = TASK_APPROVED
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
    old.state = RETURNED
    old.return_reason, old.reviewed_at, old.reviewed_by = reason[:2000], utcnow(), actor.username
    new = Inspection(task_id=old.task_id, revision=old.revision + 1, state=DRAFT, method=old.method, started_at=utcnow(),
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
    old.task.state = TASK_RETURNED
    record("inspection.returned", old, details={"task": old.task.code, "revision": old.revision, "reason": reason,
                                                "new_revision": new.revision}, user=actor)
    return new
