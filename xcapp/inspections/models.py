"""一企两表 on the phone: an inspection (one revision of a task's record), its answers,
item-12 rows, equipment rows, photos, signatures, and the files they point to."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.timeutil import utcnow
from ..extensions import db
from .vocab import InspectionState, SelfCheckMatch


class Blob(db.Model):
    """An uploaded file (photo, signature, report), kept in the database so that
    several app servers can share one PostgreSQL."""

    __tablename__ = "blob"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")


class RecordReading:
    """How a record reads, shared by the model and the item save's plain copy of it
    (``snapshot.RecordView``): one home for these rules."""

    state: str
    answers: list

    @property
    def editable(self) -> bool:
        return self.state == InspectionState.DRAFT

    @property
    def state_label(self) -> str:
        return InspectionState.label_of(self.state)

    def answer(self, item_no: int):
        return next((a for a in self.answers if a.item_no == item_no), None)


class Inspection(RecordReading, db.Model):
    __tablename__ = "inspection"
    __table_args__ = (UniqueConstraint("task_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(12), default=InspectionState.DRAFT.value, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # None: prepared for offline use (the checklist cached on the phone) and not started
    # yet; set by 开始检查 or by the first write, whichever reaches the server first.
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    method: Mapped[str] = mapped_column(String(20), default="实地检查")
    problem_summary: Mapped[str] = mapped_column(Text, default="")
    summary_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    equipment_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    equipment_confirmed_by: Mapped[str] = mapped_column(String(64), default="")
    self_check_match: Mapped[str] = mapped_column(String(10), default="")
    self_check_note: Mapped[str] = mapped_column(Text, default="")
    enterprise_opinion: Mapped[str] = mapped_column(Text, default="")
    enterprise_rep: Mapped[str] = mapped_column(String(40), default="")
    enterprise_signature_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"), nullable=True)
    enterprise_signed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    refusal_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    refusal_attested_by: Mapped[str] = mapped_column(Text, default="[]")   # officer cert numbers (JSON)
    not_inspected_reason: Mapped[str] = mapped_column(String(20), default="")
    not_inspected_remark: Mapped[str] = mapped_column(Text, default="")
    inspection_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    conclusion: Mapped[str] = mapped_column(String(8), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    submitted_by: Mapped[str] = mapped_column(String(64), default="")
    seal_hash: Mapped[str] = mapped_column(String(64), default="")
    geo_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    geo_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    geo_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    return_reason: Mapped[str] = mapped_column(Text, default="")
    stamp_blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"), nullable=True)

    task = relationship("Task", lazy="joined")
    answers: Mapped[list["Answer"]] = relationship(back_populates="inspection", order_by="Answer.item_no")
    extra_rows: Mapped[list["ExtraRow"]] = relationship(order_by="ExtraRow.position")
    equipment_rows: Mapped[list["EquipmentRow"]] = relationship(order_by="EquipmentRow.position")
    photos: Mapped[list["Photo"]] = relationship(order_by="Photo.id")
    signatures: Mapped[list["Signature"]] = relationship(order_by="Signature.id")
    additions: Mapped[list["RecordAddition"]] = relationship(order_by="RecordAddition.id")

    @classmethod
    def unit_scope_column(cls):
        from ..plans.models import Task

        return db.select(Task.unit_id).where(Task.id == cls.task_id).scalar_subquery()

    @classmethod
    def inspector_scope(cls, stmt, user):
        from ..plans.models import Task

        return stmt.where(cls.task_id.in_(Task.inspector_scope(db.select(Task.id), user)))

    @property
    def self_check_label(self) -> str:
        return SelfCheckMatch.label_of(self.self_check_match, "")


class Answer(db.Model):
    """One item of the checklist: who saved it last and when, with a version for
    concurrent editing by the two officers."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("inspection_id", "item_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    item_no: Mapped[int] = mapped_column(Integer)
    record: Mapped[str] = mapped_column(String(120), default="")
    conclusion: Mapped[str] = mapped_column(String(12), default="")
    remark: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_by_name: Mapped[str] = mapped_column(String(64), default="")

    inspection: Mapped[Inspection] = relationship(back_populates="answers")


class SaveReceipt(db.Model):
    """Idempotency: a save the server has applied, by the client's key, bound to what it
    carried. The same key with the same content changes nothing (a retry); the same key
    with other content is refused, so a key can never acknowledge newer text."""

    __tablename__ = "save_receipt"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    target: Mapped[str] = mapped_column(String(40))
    content_sha256: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ExtraRow(db.Model):
    """Item 12: a free row (项目, 检查记录, 结论) for the product's implementing rules."""

    __tablename__ = "extra_row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    project: Mapped[str] = mapped_column(String(200), default="")
    record: Mapped[str] = mapped_column(Text, default="")
    conclusion: Mapped[str] = mapped_column(String(12), default="")
    remark: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    # The phone's own reference for a row added without network: the row's queued saves
    # address it by this until they learn its id (issue 10).
    client_ref: Mapped[str] = mapped_column(String(16), default="")


class EquipmentRow(db.Model):
    """关键生产设备表: a row pre-filled from the licensing equipment, or added on site."""

    __tablename__ = "equipment_row"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    licensed_qty: Mapped[int | None] = mapped_column(Integer, nullable=True)
    onsite_qty: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="")
    remark: Mapped[str] = mapped_column(Text, default="")
    from_licence: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    # The phone's own reference for a row added without network: the row's queued saves
    # address it by this until they learn its id (issue 10).
    client_ref: Mapped[str] = mapped_column(String(16), default="")


class Photo(db.Model):
    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    item_no: Mapped[int] = mapped_column(Integer, default=0)   # 0: not-inspected evidence
    blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    thumb_blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    taken_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(64), default="")
    sha256: Mapped[str] = mapped_column(String(64))


class Signature(db.Model):
    """An officer's signature, with the confirmation that the certificate was shown."""

    __tablename__ = "signature"
    __table_args__ = (UniqueConstraint("inspection_id", "officer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    cert_no: Mapped[str] = mapped_column(String(30))
    certificate_shown: Mapped[bool] = mapped_column(Boolean, default=False)
    blob_id: Mapped[int] = mapped_column(ForeignKey("blob.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(64), default="")
    # Voided (已作废) when the officer is replaced on the task after signing: kept and
    # shown, never counted, never sealed.
    voided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    void_reason: Mapped[str] = mapped_column(Text, default="")

    officer = relationship("Officer", lazy="joined")


class SelfReport(db.Model):
    """The enterprise's 自查报告 for a task, entered before the visit."""

    __tablename__ = "self_report"

    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    entered_by: Mapped[str] = mapped_column(String(64), default="")
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


ADDITION_STAMP, ADDITION_SELF_REPORT = "stamp", "self_report"
ADDITION_LABELS = {ADDITION_STAMP: "盖章页照片", ADDITION_SELF_REPORT: "企业自查报告（提交后补充）"}


class RecordAddition(db.Model):
    """A late addition to a submitted record (the photo of the stamped form, a self-report
    handed in after submission): appended with its own hash, time and author, never
    changing what was sealed."""

    __tablename__ = "record_addition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("blob.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(String(200), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(64), default="")
    added_by_name: Mapped[str] = mapped_column(String(64), default="")

    @property
    def kind_label(self) -> str:
        return ADDITION_LABELS.get(self.kind, self.kind)
