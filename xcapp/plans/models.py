"""Plans (抽查计划), the frozen population, enterprise draws, tasks (抽查任务),
officer draws per unit and the officers on each task, with replacements."""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.authz import inspector_scope_for
from ..core.models import Unit
from ..core.timeutil import utcnow
from ..extensions import db
from ..registry.models import Enterprise, Officer
from .vocab import PlanState, TaskKind, TaskMethod, TaskState


class Plan(db.Model):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    scope_json: Mapped[str] = mapped_column(Text, default="[]")        # category names; [] = all
    ratios_json: Mapped[str] = mapped_column(Text)                     # {"低": 10, ...}
    k: Mapped[int] = mapped_column(Integer, default=2)
    deadline: Mapped[date] = mapped_column(Date)
    publication_workdays: Mapped[int] = mapped_column(Integer, default=20)
    state: Mapped[str] = mapped_column(String(16), default=PlanState.DRAFT.value, index=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    freeze_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    population_digest: Mapped[str] = mapped_column(String(64), default="")
    population_count: Mapped[int] = mapped_column(Integer, default=0)
    class_counts_json: Mapped[str] = mapped_column(Text, default="{}")
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    tasks: Mapped[list["Task"]] = relationship(back_populates="plan", order_by="Task.code")

    @property
    def scope(self) -> list[str]:
        return json.loads(self.scope_json or "[]")

    @property
    def ratios(self) -> dict[str, int]:
        return json.loads(self.ratios_json)

    @property
    def class_counts(self) -> dict[str, int]:
        return json.loads(self.class_counts_json or "{}")

    @property
    def state_label(self) -> str:
        return PlanState.label_of(self.state)

    @property
    def current_draw(self) -> "EnterpriseDraw | None":
        return db.session.scalar(db.select(EnterpriseDraw).where(
            EnterpriseDraw.plan_id == self.id, EnterpriseDraw.superseded.is_(False)))


class PopulationMember(db.Model):
    """One line of the frozen population (protocol §1.1)."""

    __tablename__ = "population_member"
    __table_args__ = (UniqueConstraint("plan_id", "uscc"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    uscc: Mapped[str] = mapped_column(String(18))
    risk: Mapped[str] = mapped_column(String(4))
    unit_code: Mapped[str] = mapped_column(String(12))


class EnterpriseDraw(db.Model):
    """One enterprise draw of a plan; a redraw before dispatch supersedes it and keeps it."""

    __tablename__ = "enterprise_draw"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    entropy: Mapped[str] = mapped_column(Text)
    entropy_source: Mapped[str] = mapped_column(String(10))   # entered | server
    seed: Mapped[str] = mapped_column(String(64))
    selected_json: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")     # why a redraw happened
    drawn_by: Mapped[str] = mapped_column(String(64), default="")
    drawn_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def selected(self) -> list[str]:
        return json.loads(self.selected_json)


class Task(db.Model):
    """抽查任务: one drawn enterprise, sent to the enterprise's unit."""

    __tablename__ = "task"
    # round 0 is the drawn task; later and re-inspections of the same enterprise count up.
    __table_args__ = (UniqueConstraint("plan_id", "enterprise_id", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    uscc: Mapped[str] = mapped_column(String(18))
    risk: Mapped[str] = mapped_column(String(4))
    position: Mapped[int] = mapped_column(Integer)              # index in the draw's selected list
    state: Mapped[str] = mapped_column(String(16), default=TaskState.PENDING.value, index=True)
    # Set when the first answer is saved: officers can no longer be replaced.
    first_answer_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(10), default=TaskKind.DRAWN.value, server_default=TaskKind.DRAWN.value, index=True)
    round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    origin_task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"), nullable=True, index=True)
    method: Mapped[str] = mapped_column(String(10), default=TaskMethod.ONSITE.value,
                                        server_default=TaskMethod.ONSITE.value)

    plan: Mapped[Plan] = relationship(back_populates="tasks")
    enterprise = relationship("Enterprise", lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")
    officers: Mapped[list["TaskOfficer"]] = relationship(back_populates="task", order_by="TaskOfficer.id")
    draw_info: Mapped["TaskDrawInfo | None"] = relationship(lazy="joined", uselist=False)

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id

    @classmethod
    def inspector_scope(cls, stmt, user):
        mine = (db.select(TaskOfficer.task_id).join(Officer, Officer.id == TaskOfficer.officer_id)
                .where(Officer.user_id == user.id, TaskOfficer.active.is_(True)))
        return stmt.where(cls.id.in_(mine))

    @property
    def state_label(self) -> str:
        return TaskState.label_of(self.state)

    @property
    def kind_label(self) -> str:
        return TaskKind.label_of(self.kind)

    @property
    def method_label(self) -> str:
        return TaskMethod.label_of(self.method)

    @property
    def origin(self) -> "Task | None":
        return db.session.get(Task, self.origin_task_id) if self.origin_task_id else None

    @property
    def later_tasks(self) -> list["Task"]:
        return db.session.scalars(db.select(Task).where(Task.origin_task_id == self.id).order_by(Task.id)).all()

    @property
    def excluded(self) -> list[str]:
        return json.loads(self.draw_info.excluded_json) if self.draw_info else []

    @property
    def cap_lifted(self) -> bool:
        return bool(self.draw_info and self.draw_info.cap_lifted)

    @property
    def active_officers(self) -> list["TaskOfficer"]:
        return [o for o in self.officers if o.active]

    @property
    def drawn_officers(self) -> list["TaskOfficer"]:
        return sorted((o for o in self.officers if o.drawn), key=lambda o: o.pick_order)


class TaskDrawInfo(db.Model):
    """A task's officer draw as drawn (protocol §2.3): the excluded officers and whether
    the cap was lifted. Kept apart from the task so the draw only inserts rows."""

    __tablename__ = "task_draw_info"

    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    excluded_json: Mapped[str] = mapped_column(Text, default="[]")
    cap_lifted: Mapped[bool] = mapped_column(Boolean, default=False)


class InspectorDraw(db.Model):
    """The officer draw of one unit for one plan (protocol §2)."""

    __tablename__ = "inspector_draw"
    __table_args__ = (UniqueConstraint("plan_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    pool_json: Mapped[str] = mapped_column(Text)
    pool_digest: Mapped[str] = mapped_column(String(64))
    entropy: Mapped[str] = mapped_column(Text)
    entropy_source: Mapped[str] = mapped_column(String(10))
    seed: Mapped[str] = mapped_column(String(64))
    cap: Mapped[int] = mapped_column(Integer)
    drawn_by: Mapped[str] = mapped_column(String(64), default="")
    drawn_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    unit: Mapped[Unit] = relationship(lazy="joined")

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id

    @property
    def pool(self) -> list[str]:
        return json.loads(self.pool_json)


class TaskOfficer(db.Model):
    """An officer on a task. Replaced officers stay, inactive, with the reason."""

    __tablename__ = "task_officer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    cert_no: Mapped[str] = mapped_column(String(30))
    drawn: Mapped[bool] = mapped_column(Boolean, default=True)     # False: came in as a replacement
    pick_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    replaced_by: Mapped[str] = mapped_column(String(64), default="")
    replace_reason: Mapped[str] = mapped_column(Text, default="")

    task: Mapped[Task] = relationship(back_populates="officers")
    officer = relationship("Officer", lazy="joined")


class Replacement(db.Model):
    """One replacement of an officer on a task (protocol §2.4), in order."""

    __tablename__ = "replacement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    out_cert: Mapped[str] = mapped_column(String(30))
    in_cert: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(64), default="")

    task: Mapped[Task] = relationship()


@inspector_scope_for(Enterprise)
def enterprises_of_my_tasks(stmt, user):
    """An inspector sees the enterprises of the tasks assigned to them (as an active officer)."""
    task_enterprises = (
        db.select(Task.enterprise_id)
        .join(TaskOfficer, TaskOfficer.task_id == Task.id)
        .join(Officer, Officer.id == TaskOfficer.officer_id)
        .where(Officer.user_id == user.id, TaskOfficer.active.is_(True))
    )
    return stmt.where(Enterprise.id.in_(task_enterprises))
