"""Follow-up cases (后续处理) and their actions."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.timeutil import utcnow
from ..extensions import db
from .vocab import CaseState


class FollowUpCase(db.Model):
    __tablename__ = "follow_up_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"))
    kind: Mapped[str] = mapped_column(String(16))            # CaseKind
    state: Mapped[str] = mapped_column(String(16), default=CaseState.PENDING.value, index=True)
    rectify_deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    rectified: Mapped[bool] = mapped_column(Boolean, default=False)
    # The licensing authority's decision after 报请 (撤销/吊销/注销/不予处理), its date and 文号.
    decision: Mapped[str] = mapped_column(String(8), default="", server_default="")
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    decision_doc_no: Mapped[str] = mapped_column(String(60), default="", server_default="")
    # The 复查 task opened from this case, while it runs or after.
    recheck_task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    task = relationship("Task", lazy="joined", foreign_keys=[task_id])
    recheck_task = relationship("Task", foreign_keys=[recheck_task_id])
    inspection = relationship("Inspection")
    actions: Mapped[list["FollowUpAction"]] = relationship(order_by="FollowUpAction.id")

    @classmethod
    def unit_scope_column(cls):
        from ..plans.models import Task

        return db.select(Task.unit_id).where(Task.id == cls.task_id).scalar_subquery()

    @property
    def state_label(self) -> str:
        return CaseState.label_of(self.state)


class FollowUpAction(db.Model):
    __tablename__ = "follow_up_action"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("follow_up_case.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    recheck_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(64), default="")
