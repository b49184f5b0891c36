"""The archive of a task or a plan: a ZIP holding, per task, the PDF of every revision of the
record, the photos named by item number, the signatures, the stamped copy, the self-inspection
report, the follow-up case log and the record's audit rows, with ``manifest.json`` (SHA-256 of
every file and the seal of every revision) and ``SHA256SUMS`` so that ``sha256sum -c SHA256SUMS``
verifies an extracted archive with nothing else.

Written entry by entry: photos and signatures are read one at a time (a column query, so no ORM
object keeps the bytes alive), and the ZIP goes either to a file or, for a web download, through
a small pipe that hands each finished chunk to the response — memory stays bounded whatever the
size of the plan."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator

from sqlalchemy import or_, select

from ..core.timeutil import fmt_dt, utcnow
from ..extensions import db

FORMAT = "xcapp-archive-v1"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_EXT = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf", "image/webp": "webp",
        "text/plain": "txt"}


def safe_name(text: str) -> str:
    """A path component that unpacks on any system and that sha256sum reads back as is."""
    name = _UNSAFE.sub("_", text).strip().strip(".") or "_"
    return name[:120]


def _ext(content_type: str, filename: str = "") -> str:
    if content_type in _EXT:
        return _EXT[content_type]
    tail = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return safe_name(tail)[:8] if tail else "bin"


def _json(value) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


class _Pipe(io.RawIOBase):
    """An unseekable sink: zipfile writes data descriptors, and ``drain`` hands out what it wrote."""

    def __init__(self):
        super().__init__()
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        self._chunks.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class ArchiveWriter:
    def __init__(self, fileobj, scope: dict):
        self.zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.files: list[dict] = []
        self.records: list[dict] = []
        self.scope = scope
        self.created = utcnow()

    def add(self, path: str, data: bytes, kind: str, compress: bool = True) -> None:
        info = zipfile.ZipInfo(path, date_time=self.created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, data)
        self.files.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                           "kind": kind})

    def finish(self) -> None:
        manifest = {"format": FORMAT, "created_at": self.created.isoformat() + "Z", "scope": self.scope,
                    "files": self.files, "records": self.records,
                    "verify": "解压后在该目录执行 sha256sum -c SHA256SUMS；manifest.json 列出每个文件的 SHA-256 及每版记录的封存校验码，"
                              "封存校验码 = SHA-256(record.json 中 payload 的规范 JSON)。"}
        data = _json(manifest)
        self.add("manifest.json", data, "manifest")
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in self.files)
        info = zipfile.ZipInfo("SHA256SUMS", date_time=self.created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, sums.encode("utf-8"))
        self.zip.close()


def _blob(blob_id: int | None) -> tuple[bytes, str, str] | None:
    """One file's bytes, read alone (no ORM object holds them afterwards)."""
    from ..inspections.models import Blob

    if not blob_id:
        return None
    row = db.session.execute(select(Blob.data, Blob.content_type, Blob.filename).where(Blob.id == blob_id)).first()
    return (bytes(row[0]), row[1], row[2]) if row else None


def _public_url(inspection) -> str:
    from flask import current_app

    if not inspection.seal_hash:
        return ""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    return f"{base}/public/records/{inspection.seal_hash[:16]}"


def _canonical(value) -> str:
    from ..audit.services import canonical_json

    return canonical_json(value)


def write_task(w: ArchiveWriter, task, prefix: str = "") -> Iterator[None]:
    """Every file of one task; yields after each so that a streaming caller can flush."""
    from ..audit.models import AuditLog
    from ..inspections.models import Inspection, SelfReport
    from ..inspections.pdf import render_inspection_pdf
    from ..inspections.lifecycle import compute_seal, seal_payload
    from ..oversight.followup import ACTIONS
    from ..oversight.vocab import CaseState
    from ..oversight.models import FollowUpCase

    base = f"{prefix}{safe_name(task.code)}/"
    inspections = db.session.scalars(select(Inspection).where(Inspection.task_id == task.id)
                                     .order_by(Inspection.revision)).all()
    for inspection in inspections:
        rev = f"{base}第{inspection.revision}版/"
        w.add(f"{rev}一企两表.pdf", render_inspection_pdf(inspection, _public_url(inspection)), "record_pdf")
        yield
        payload = seal_payload(inspection)
        recomputed = hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()
        w.add(f"{rev}record.json", _json({"payload": payload, "seal_hash": inspection.seal_hash,
                                          "state": inspection.state, "reviewed_by": inspection.reviewed_by,
                                          "reviewed_at": inspection.reviewed_at,
                                          "return_reason": inspection.return_reason}), "record_data")
        w.records.append({"task": task.code, "revision": inspection.revision, "state": inspection.state,
                          "seal_hash": inspection.seal_hash, "seal_recomputed": recomputed if inspection.seal_hash else "",
                          "seal_intact": bool(inspection.seal_hash) and recomputed == inspection.seal_hash,
                          "record": f"{rev}record.json"})
        counters: dict[int, int] = {}
        for photo in inspection.photos:
            blob = _blob(photo.blob_id)
            if blob is None:
                continue
            counters[photo.item_no] = counters.get(photo.item_no, 0) + 1
            stem = f"第{photo.item_no:02d}项" if photo.item_no else "未能检查"
            w.add(f"{rev}照片/{stem}-{counters[photo.item_no]}.{_ext(blob[1])}", blob[0], "photo", compress=False)
            del blob
            yield
        for sig in inspection.signatures:
            blob = _blob(sig.blob_id)
            if blob is not None:
                voided = "-已作废" if sig.voided_at else ""
                w.add(f"{rev}签名/检查人员-{safe_name(sig.officer.name)}-{safe_name(sig.cert_no)}{voided}.{_ext(blob[1])}",
                      blob[0], "signature")
        blob = _blob(inspection.enterprise_signature_id)
        if blob is not None:
            w.add(f"{rev}签名/企业-{safe_name(inspection.enterprise_rep or '代表')}.{_ext(blob[1])}", blob[0], "signature")
        blob = _blob(inspection.stamp_blob_id)
        if blob is not None:
            w.add(f"{rev}盖章页.{_ext(blob[1], blob[2])}", blob[0], "stamped_copy", compress=False)
        for addition in inspection.additions:
            label = safe_name(addition.kind_label)
            blob = _blob(addition.blob_id) if addition.blob_id != inspection.stamp_blob_id else None
            if blob is not None:
                w.add(f"{rev}补充/{addition.id}-{label}.{_ext(blob[1], blob[2] or addition.filename)}", blob[0],
                      "stamped_copy" if addition.kind == "stamp" else "addition")
            if addition.text:
                w.add(f"{rev}补充/{addition.id}-{label}.txt", addition.text.encode("utf-8"), "addition")
        del blob
        yield
    report = db.session.get(SelfReport, task.id)
    if report is not None:
        blob = _blob(report.blob_id)
        if blob is not None:
            w.add(f"{base}企业自查报告.{_ext(blob[1], blob[2] or report.filename)}", blob[0], "self_report")
        if report.text:
            w.add(f"{base}企业自查报告.txt", report.text.encode("utf-8"), "self_report")
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.id))
    if case is not None:
        w.add(f"{base}后续处理.json", _json({
            "task": task.code, "kind": case.kind, "state": case.state, "state_label": CaseState.label_of(case.state),
            "rectify_deadline": case.rectify_deadline, "rectified": case.rectified, "opened_at": case.created_at,
            "actions": [{"action": a.action, "label": ACTIONS.get(a.action, a.action), "at": a.at, "at_local": fmt_dt(a.at),
                         "by": a.by, "note": a.note, "deadline": a.deadline, "recheck_passed": a.recheck_passed,
                         "from": a.from_state, "to": a.to_state} for a in case.actions]}), "followup")
    ids = [str(i.id) for i in inspections]
    conditions = [(AuditLog.object_type == "task") & (AuditLog.object_id == str(task.id))]
    if ids:
        conditions.append((AuditLog.object_type == "inspection") & AuditLog.object_id.in_(ids))
    if case is not None:
        conditions.append((AuditLog.object_type == "follow_up_case") & (AuditLog.object_id == str(case.id)))
    rows = db.session.execute(select(AuditLog.seq, AuditLog.at, AuditLog.username, AuditLog.unit_code,
                                     AuditLog.action, AuditLog.object_type, AuditLog.object_id, AuditLog.details,
                                     AuditLog.prev_hash, AuditLog.hash)
                              .where(or_(*conditions)).order_by(AuditLog.id)).all()
    w.add(f"{base}审计记录.json", _json([{
        "seq": r.seq, "at": r.at, "username": r.username, "unit": r.unit_code, "action": r.action,
        "object_type": r.object_type, "object_id": r.object_id, "details": json.loads(r.details or "{}"),
        "prev_hash": r.prev_hash, "hash": r.hash} for r in rows]), "audit")
    yield


def _drive(w: ArchiveWriter, steps: Iterable[None], sink: _Pipe | None) -> Iterator[bytes]:
    for _ in steps:
        if sink is not None:
            chunk = sink.drain()
            if chunk:
                yield chunk
    w.finish()
    if sink is not None:
        yield sink.drain()


def _plan_steps(w: ArchiveWriter, plan, task_ids: list[int]) -> Iterator[None]:
    from ..plans.models import Task

    for task_id in task_ids:
        task = db.session.get(Task, task_id)
        yield from write_task(w, task)
        db.session.expire(task)


def plan_task_ids(plan, user=None) -> list[int]:
    from ..core.authz import scoped
    from ..plans.models import Task

    stmt = select(Task.id).where(Task.plan_id == plan.id)
    if user is not None:
        stmt = scoped(stmt, Task, user)
    return list(db.session.scalars(stmt.order_by(Task.code)))


def _plan_scope(plan, n: int) -> dict:
    return {"kind": "plan", "plan": plan.code, "name": plan.name, "tasks": n}


def _task_scope(task) -> dict:
    return {"kind": "task", "plan": task.plan.code, "task": task.code, "uscc": task.uscc,
            "enterprise": task.enterprise.name}


def write_task_archive(task, fileobj) -> ArchiveWriter:
    w = ArchiveWriter(fileobj, _task_scope(task))
    for _ in _drive(w, write_task(w, task), None):
        pass
    return w


def write_plan_archive(plan, fileobj, user=None) -> ArchiveWriter:
    ids = plan_task_ids(plan, user)
    w = ArchiveWriter(fileobj, _plan_scope(plan, len(ids)))
    for _ in _drive(w, _plan_steps(w, plan, ids), None):
        pass
    return w


def stream_task_archive(task) -> Iterator[bytes]:
    sink = _Pipe()
    w = ArchiveWriter(sink, _task_scope(task))
    return _drive(w, write_task(w, task), sink)


def stream_plan_archive(plan, user=None) -> Iterator[bytes]:
    ids = plan_task_ids(plan, user)
    sink = _Pipe()
    w = ArchiveWriter(sink, _plan_scope(plan, len(ids)))
    return _drive(w, _plan_steps(w, plan, ids), sink)
