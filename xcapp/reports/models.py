"""责令整改通知书 as issued: the text the admin entered (problems, legal basis) kept with its
number, so that a reprint gives the same document."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.timeutil import utcnow
from ..extensions import db


class RectifyNotice(db.Model):
    __tablename__ = "rectify_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("follow_up_action.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("follow_up_case.id"), index=True)
    number: Mapped[str] = mapped_column(String(80), default="")        # 文书编号, e.g. 许魏市监责改〔2023〕12号
    problems: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")

    action = relationship("FollowUpAction")
    case = relationship("FollowUpCase")

    @classmethod
    def unit_scope_column(cls):
        from ..plans.models import Task
        from ..oversight.models import FollowUpCase

        return (db.select(Task.unit_id).join(FollowUpCase, FollowUpCase.task_id == Task.id)
                .where(FollowUpCase.id == cls.case_id).scalar_subquery())
