"""The registries: product categories, enterprises with their licensing equipment,
enforcement officers, recusal declarations, and the change history of all of them."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import (Boolean, Date, DateTime, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.models import Unit
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from .vocab import LICENCE_EXPIRED, LicenceState, OfficerStatus, ProductionState

EXPIRY_WARNING_DAYS = 90

DEFAULT_CATEGORIES = [
    "水泥", "危险化学品", "危险化学品包装物及容器", "电线电缆", "化肥（复肥）",
    "食品相关产品", "建筑用钢筋", "人民币鉴别仪", "广播电视传输设备", "预应力混凝土铁路桥简支梁",
]


class ProductCategory(db.Model):
    __tablename__ = "product_category"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Enterprise(db.Model):
    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    production_address: Mapped[str] = mapped_column(String(200), default="")
    legal_rep: Mapped[str] = mapped_column(String(40), default="")
    contact: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    licence_no: Mapped[str] = mapped_column(String(40), unique=True)
    issue_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date, index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("product_category.id"), index=True)
    product_scope: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    risk: Mapped[str] = mapped_column(String(4), index=True)
    production_state: Mapped[str] = mapped_column(String(8), default=ProductionState.NORMAL.value, index=True)
    licence_state: Mapped[str] = mapped_column(String(8), default=LicenceState.VALID.value, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    category: Mapped[ProductCategory] = relationship(lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")
    equipment: Mapped[list["EquipmentRecord"]] = relationship(
        back_populates="enterprise", order_by="EquipmentRecord.position",
        cascade="all, delete-orphan")

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id

    def shown_licence_state(self, today: date | None = None) -> str:
        if self.licence_state == LicenceState.VALID and self.expiry_date < (today or local_today()):
            return LICENCE_EXPIRED
        return self.licence_state

    def expiry_warning(self, today: date | None = None) -> str:
        """'' | 'expired' | 'soon' (within 90 days), for licences not ended otherwise."""
        if self.licence_state != LicenceState.VALID:
            return ""
        today = today or local_today()
        if self.expiry_date < today:
            return "expired"
        if self.expiry_date <= today + timedelta(days=EXPIRY_WARNING_DAYS):
            return "soon"
        return ""


class EquipmentRecord(db.Model):
    """Key production equipment as recorded at licensing (取证时)."""

    __tablename__ = "equipment_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    enterprise: Mapped[Enterprise] = relationship(back_populates="equipment")


class Officer(db.Model):
    __tablename__ = "officer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    position: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    cert_no: Mapped[str] = mapped_column(String(30), unique=True)
    cert_expiry: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(4), default=OfficerStatus.ACTIVE.value, index=True)
    specialty_id: Mapped[int | None] = mapped_column(ForeignKey("product_category.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit] = relationship(lazy="joined")
    specialty: Mapped[ProductCategory | None] = relationship(lazy="joined")
    user = relationship("User", lazy="joined")

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id

    @classmethod
    def inspector_scope(cls, stmt, user):
        """An inspector sees their own record only."""
        return stmt.where(cls.user_id == user.id)

    @property
    def is_active(self) -> bool:
        return self.status == OfficerStatus.ACTIVE


class Recusal(db.Model):
    """A declared conflict of interest (回避): the officer must not inspect the enterprise."""

    __tablename__ = "recusal"
    __table_args__ = (UniqueConstraint("officer_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    declared_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    officer: Mapped[Officer] = relationship(lazy="joined")
    enterprise: Mapped[Enterprise] = relationship(lazy="joined")

    @classmethod
    def unit_scope_column(cls):
        return Officer.unit_id  # callers join Officer


class ChangeRecord(db.Model):
    """动态管理: one row per changed field of a registry record."""

    __tablename__ = "change_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(20))  # 新建 / 修改 / 状态变更 / 导入新建 / 导入修改
    field: Mapped[str] = mapped_column(String(40), default="")
    old: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (db.Index("ix_change_record_object", "object_type", "object_id"),)


class ImportBatch(db.Model):
    """An uploaded file between preview and confirmation (all-or-nothing import).

    The content is emptied once applied, and for rejected or never-confirmed files
    after the retention period (``flask --app wsgi purge``); the rest stays."""

    __tablename__ = "import_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(db.LargeBinary)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    # mapping (unknown headers to map) / previewed / rejected / applying / applied /
    # expired (previewed or mapping, never confirmed, file purged)
    status: Mapped[str] = mapped_column(String(12), default="previewed")
    summary: Mapped[str] = mapped_column(Text, default="")
    # The preview's problems as JSON [[row, column, message], ...]: kept when the file is purged.
    problems: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # When the file's content was deleted (rejected or unconfirmed files, after the retention period).
    purged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The user's mapping of headers the import does not know, JSON {header: field key or ""}
    # (issue 13.4); used again when the batch is confirmed.
    mapping: Mapped[str] = mapped_column(Text, default="", server_default="")

    @property
    def mapping_dict(self) -> dict:
        import json

        try:
            value = json.loads(self.mapping) if self.mapping else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def problem_list(self) -> list:
        """[[row, column, message], ...] as kept at preview."""
        import json

        try:
            return json.loads(self.problems) if self.problems else []
        except ValueError:
            return []

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id
