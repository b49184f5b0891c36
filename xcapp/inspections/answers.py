"""Answer use cases: an item's record and conclusion (idempotent, version-checked),
item-12 rows, the problem summary and the key equipment table."""
from __future__ import annotations

import re
from functools import partial

from ..audit.services import record, record_now
from ..core.text import clean_text
from ..core.timeutil import utcnow
from ..db_batch import Batch
from ..extensions import db
from . import rules
from .display import remember_person
from .models import EquipmentRow, ExtraRow, Inspection
from .services import (Conflict, InspectionError, applied_before, check_editable, editable, mark_started, officer_of,
                       receipt_row, rows_for_rules, seen_before, touch_task)
from .snapshot import INSPECTION, TASK, AnswerView, RecordView, forget, load_locked, write_answer, write_columns


def save_answer(inspection_id: int, item_no: int, data: dict, actor, *, base_version: int | None = None,
                key: str | None = None) -> tuple[RecordView, AnswerView, bool]:
    """Apply the fields present in ``data`` (record: list of codes, conclusion, remark).

    Returns (record, answer, replayed), plain copies as stored (``snapshot``: the hot
    path reads and writes by Core statements). Raises Conflict when another officer
    saved this item after the version the client started from.
    """
    if item_no not in rules.ALL_ITEMS:
        raise InspectionError("检查项目序号无效", 404)
    receipt = receipt_row(inspection_id, key, f"item:{item_no}")
    inspection, new_key = load_locked(inspection_id, receipt)
    if inspection is None:
        raise InspectionError("检查记录不存在", 404)
    check_editable(inspection, actor)
    writes = Batch()
    if mark_started(inspection, actor, audit=partial(record_now, batch=writes)):
        write_columns(INSPECTION, inspection.id, writes, started_at=inspection.started_at)
    remember_person(actor.username, officer_of(actor, inspection.task).officer.name)   # shown as the saver
    answer = inspection.answer(item_no)
    if receipt is not None and not new_key and applied_before(receipt):
        writes.run(db.session.connection())
        forget(inspection)
        return inspection, answer, True
    if answer is None:
        answer = AnswerView(None, item_no)
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
    inserted = write_answer(answer, inspection.id, writes)
    task_changes = touch_task(inspection)
    if task_changes:
        write_columns(TASK, inspection.task.id, writes, **task_changes)
    record_now("inspection.answer_saved", inspection,
               details={"task": inspection.task.code, "item": item_no, "record": answer.record,
                        "conclusion": answer.conclusion, "remark": answer.remark, "version": answer.version},
               user=actor, batch=writes)
    writes.run(db.session.connection())
    if inserted is not None:
        answer.id = inserted.first().id
    forget(inspection)
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
    inspection = editable(inspection_id, actor)
    if seen_before(inspection, key, "extra:add") or _client_ref(client_ref, inspection.extra_rows):
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
    touch_task(inspection)
    db.session.flush()
    record("inspection.extra_row_added", inspection, details={"task": inspection.task.code, "row": row.id}, user=actor)
    return inspection


def save_extra_row(inspection_id: int, row_id: int, data: dict, actor, key: str | None = None) -> Inspection:
    inspection = editable(inspection_id, actor)
    row = next((r for r in inspection.extra_rows if r.id == row_id), None)
    if row is None:
        raise InspectionError("该行不存在", 404)
    if seen_before(inspection, key, f"extra:{row_id}"):
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
    inspection = editable(inspection_id, actor)
    row = next((r for r in inspection.extra_rows if r.id == row_id), None)
    if row is not None:
        inspection.extra_rows.remove(row)
        db.session.delete(row)
        record("inspection.extra_row_deleted", inspection, details={"task": inspection.task.code, "row": row_id},
               user=actor)
    return inspection


def save_summary(inspection_id: int, text: str, actor) -> Inspection:
    inspection = editable(inspection_id, actor)
    text = clean_text(text)
    errors = rules.summary_errors(text)
    if errors:
        raise InspectionError("；".join(errors))
    inspection.problem_summary = text
    inspection.summary_edited = True
    record("inspection.summary_saved", inspection, details={"task": inspection.task.code}, user=actor)
    return inspection


def _int_or_none(value, label: str) -> int | None:
    text = clean_text(value)
    if not text:
        return None
    if not text.isdigit() or int(text) > 100000:
        raise InspectionError(f"{label}应为 0 到 100000 之间的整数")
    return int(text)


def save_equipment_row(inspection_id: int, row_id: int, data: dict, actor, key: str | None = None) -> Inspection:
    inspection = editable(inspection_id, actor)
    row = next((r for r in inspection.equipment_rows if r.id == row_id), None)
    if row is None:
        raise InspectionError("该设备行不存在", 404)
    if seen_before(inspection, key, f"equipment:{row_id}"):
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
    touch_task(inspection)
    db.session.flush()
    record("inspection.equipment_saved", inspection,
           details={"task": inspection.task.code, "row": row.id, "onsite_qty": row.onsite_qty, "status": row.status},
           user=actor)
    return inspection


def add_equipment_row(inspection_id: int, actor, key: str | None = None, client_ref: str = "") -> Inspection:
    inspection = editable(inspection_id, actor)
    if seen_before(inspection, key, "equipment:add") or _client_ref(client_ref, inspection.equipment_rows):
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
    inspection = editable(inspection_id, actor)
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
