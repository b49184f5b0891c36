"""Evidence use cases: photos (decoded before any lock), stored files, the stamped
copy and the self-report as late additions, the self-check, the officers' and the
enterprise's signatures and a recorded refusal."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import select

from ..audit.services import record
from ..core import slow
from ..core.text import clean_text
from ..core.timeutil import CST, utcnow
from ..db_setup import lock_row
from ..extensions import db
from ..plans.models import Task
from . import rules
from .images import ImageBusy, ImageRejected, decode_data_url, decode_slot, process_photo, validate_signature_png
from .models import ADDITION_SELF_REPORT, ADDITION_STAMP, Blob, Inspection, Photo, RecordAddition, SelfReport, Signature
from .services import InspectionError, editable, latest, lock_record, officer_of, seen_before, touch_task
from .vocab import InspectionState, SelfCheckMatch


MAX_REPORT_BYTES = 10 * 1024 * 1024


REPORT_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


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
    inspection = editable(inspection_id, actor)
    if seen_before(inspection, key, f"photo:{item_no}"):
        return None
    full = store_blob(processed.jpeg, "image/jpeg", actor, sha256=processed.sha256)
    thumb = store_blob(processed.thumb, "image/jpeg", actor, sha256=processed.thumb_sha256)
    photo = Photo(inspection_id=inspection.id, item_no=item_no, blob_id=full.id, thumb_blob_id=thumb.id,
                  taken_at=processed.taken_at, uploaded_by=actor.username, sha256=processed.sha256)
    db.session.add(photo)
    inspection.photos.append(photo)
    touch_task(inspection)
    db.session.flush()
    record("inspection.photo_added", inspection,
           details={"task": inspection.task.code, "item": item_no, "sha256": processed.sha256}, user=actor)
    return photo


def attach_stamp(inspection_id: int, data: bytes, actor) -> Inspection:
    """After signing: a photo of the printed form bearing the enterprise's stamp, appended
    to the sealed record as a late addition (its own hash, time and author); the
    sealed record itself never changes (11.7)."""
    processed = _process_photo(data)
    inspection = lock_record(inspection_id)
    if officer_of(actor, inspection.task) is None:
        raise InspectionError("只有本任务的检查人员可以上传盖章页。", 403)
    if inspection.state not in (InspectionState.SUBMITTED, InspectionState.APPROVED):
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
    inspection = editable(inspection_id, actor)
    if match not in SelfCheckMatch.labels():
        raise InspectionError("请选择自查报告与实际情况的符合性")
    inspection.self_check_match, inspection.self_check_note = match, clean_text(note)[:2000]
    record("inspection.self_check_saved", inspection, details={"task": inspection.task.code, "match": match},
           user=actor)
    return inspection


def sign_officer(inspection_id: int, officer_id: int, certificate_shown: bool, data_url: str, actor) -> Signature:
    inspection = editable(inspection_id, actor)
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
    inspection = editable(inspection_id, actor)
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
    inspection = editable(inspection_id, actor)
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
        .where(Inspection.task_id == task.id, Inspection.state == InspectionState.DRAFT, Signature.officer_id == officer_id,
               Signature.voided_at.is_(None))).all()
    now = utcnow()
    for signature in rows:
        signature.voided_at = now
        signature.void_reason = f"检查人员已更换（{reason}），此签名作废"[:2000]
        record("inspection.signature_voided", db.session.get(Inspection, signature.inspection_id),
               details={"task": task.code, "officer": signature.cert_no, "sha256": signature.sha256,
                        "reason": reason}, user=actor)
    return len(rows)
