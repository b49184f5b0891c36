"""Registry use cases: create and edit enterprises and officers, equipment,
recusals, categories; every change is kept in the history and the audit log."""
from __future__ import annotations

from datetime import date

from flask_login import current_user
from sqlalchemy import func, select

from ..audit.services import record
from ..core.models import Unit, all_units
from ..core.roles import CITY_ADMIN
from ..core.text import clean_text, normalize_text
from ..core.timeutil import local_today
from ..extensions import db
from .fields import (ENTERPRISE_FIELDS, OFFICER_FIELDS, Lookups, check_enterprise, clean_record, diff,
                     show_value)
from .models import (DEFAULT_CATEGORIES, ChangeRecord, Enterprise, EquipmentRecord, Officer,
                     ProductCategory, Recusal)


class RegistryError(Exception):
    """Refused input: ``errors`` maps field keys to Chinese messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def ensure_categories() -> None:
    existing = set(db.session.scalars(select(ProductCategory.name)))
    for order, name in enumerate(DEFAULT_CATEGORIES):
        if name not in existing:
            db.session.add(ProductCategory(name=name, sort_order=order))
    db.session.flush()


def categories(active_only: bool = False) -> list[ProductCategory]:
    stmt = select(ProductCategory).order_by(ProductCategory.sort_order, ProductCategory.id)
    if active_only:
        stmt = stmt.where(ProductCategory.active.is_(True))
    return db.session.scalars(stmt).all()


def build_lookups(today: date | None = None) -> Lookups:
    units = all_units()
    cats = categories()
    unit_map = {}
    for unit in units:
        for key in (unit.code, unit.name, unit.full_name):
            unit_map[key] = unit.id
    return Lookups(
        categories={c.name: c.id for c in cats if c.active},
        units=unit_map,
        unit_labels={u.id: u.name for u in units},
        category_labels={c.id: c.name for c in cats},
        today=today or local_today(),
    )


def _actor_name(actor) -> str:
    if actor is not None:
        return actor.username
    try:
        return current_user.username if current_user.is_authenticated else "system"
    except Exception:  # outside a request (CLI)
        return "system"


def add_history(object_type: str, object_id: int, action: str, changes, actor=None) -> list[ChangeRecord]:
    name = _actor_name(actor)
    rows = [ChangeRecord(object_type=object_type, object_id=object_id, action=action, field=f,
                         old=old, new=new, username=name) for f, old, new in changes]
    db.session.add_all(rows)
    return rows


def history(object_type: str, object_id: int) -> list[ChangeRecord]:
    return db.session.scalars(
        select(ChangeRecord).where(ChangeRecord.object_type == object_type, ChangeRecord.object_id == object_id)
        .order_by(ChangeRecord.id.desc())
    ).all()


def _check_unit_allowed(clean: dict, errors: dict, actor, field_key: str = "unit_id") -> None:
    actor = actor or (current_user if current_user and current_user.is_authenticated else None)
    if actor is None or actor.role == CITY_ADMIN:
        return
    if field_key in clean and clean[field_key] != actor.unit_id:
        errors.setdefault(field_key, f"只能登记本单位（{actor.unit.name}）的数据")


def _values(obj, specs) -> dict:
    return {spec.key: getattr(obj, spec.key) for spec in specs}


# ----------------------------------------------------------------- enterprises

def _unique(column, key: str, clean: dict, errors: dict, own_id: int | None, message: str) -> None:
    """A value that must be unique (USCC, licence number, certificate number) and is
    taken by another record: the field's error, with the value in ``message``."""
    if key not in clean or key in errors:
        return
    other = db.session.scalar(select(column.class_.id).where(column == clean[key]))
    if other is not None and other != own_id:
        errors[key] = message.format(clean[key])


def save_enterprise(raw: dict, enterprise: Enterprise | None = None, actor=None) -> Enterprise:
    """Create (enterprise None) or update one enterprise from raw input; raises RegistryError."""
    lookups = build_lookups()
    clean, errors = clean_record(ENTERPRISE_FIELDS, raw, lookups)
    check_enterprise(clean, errors, lookups)
    _check_unit_allowed(clean, errors, actor)
    own_id = enterprise.id if enterprise else None
    _unique(Enterprise.uscc, "uscc", clean, errors, own_id, "统一社会信用代码 {} 已登记（另一户企业）")
    _unique(Enterprise.licence_no, "licence_no", clean, errors, own_id, "生产许可证编号 {} 已被另一户企业使用")
    if errors:
        raise RegistryError(errors)
    if enterprise is None:
        enterprise = Enterprise(**clean)
        db.session.add(enterprise)
        db.session.flush()
        changes = [(spec.header, "", show_value(spec, clean[spec.key], lookups))
                   for spec in ENTERPRISE_FIELDS if spec.key in clean]
        add_history("enterprise", enterprise.id, "新建", changes, actor)
        record("enterprise.created", enterprise, details={"uscc": enterprise.uscc, "name": enterprise.name},
               user=actor)
        return enterprise
    changes = diff(ENTERPRISE_FIELDS, _values(enterprise, ENTERPRISE_FIELDS), clean, lookups)
    if changes:
        for key, value in clean.items():
            setattr(enterprise, key, value)
        status_fields = {"许可状态", "生产状态"}
        action = "状态变更" if {c[0] for c in changes} <= status_fields else "修改"
        add_history("enterprise", enterprise.id, action, changes, actor)
        record("enterprise.updated", enterprise,
               details={"uscc": enterprise.uscc, "changes": [list(c) for c in changes]}, user=actor)
    return enterprise


def set_equipment(enterprise: Enterprise, rows: list[dict], actor=None, action: str = "修改") -> bool:
    """Replace the licensing equipment list; records the change. Returns whether anything changed."""
    before = [(e.name, e.model, e.quantity) for e in enterprise.equipment]
    after = [(r["name"], r.get("model") or "", int(r["quantity"])) for r in rows]
    if before == after:
        return False
    enterprise.equipment.clear()
    db.session.flush()
    for position, (name, model, quantity) in enumerate(after):
        enterprise.equipment.append(EquipmentRecord(name=name, model=model, quantity=quantity, position=position))
    shown = lambda items: "；".join(f"{n} {m} ×{q}".replace("  ", " ") for n, m, q in items)  # noqa: E731
    add_history("enterprise", enterprise.id, action, [("关键生产设备", shown(before), shown(after))], actor)
    record("enterprise.equipment_set", enterprise, details={"uscc": enterprise.uscc, "rows": len(after)},
           user=actor)
    return True


def parse_equipment_row(name: str, model: str, quantity: str) -> dict:
    from .fields import EQUIPMENT_FIELDS

    lookups = build_lookups()
    clean, errors = clean_record(EQUIPMENT_FIELDS[1:], {"name": name, "model": model, "quantity": quantity},
                                 lookups)
    if errors:
        raise RegistryError(errors)
    return clean


# -------------------------------------------------------------------- officers

def save_officer(raw: dict, officer: Officer | None = None, actor=None) -> Officer:
    lookups = build_lookups()
    clean, errors = clean_record(OFFICER_FIELDS, raw, lookups)
    _check_unit_allowed(clean, errors, actor)
    own_id = officer.id if officer else None
    _unique(Officer.cert_no, "cert_no", clean, errors, own_id, "执法证号 {} 已登记（另一名人员）")
    if errors:
        raise RegistryError(errors)
    if officer is None:
        officer = Officer(**clean)
        db.session.add(officer)
        db.session.flush()
        changes = [(spec.header, "", show_value(spec, clean[spec.key], lookups))
                   for spec in OFFICER_FIELDS if spec.key in clean]
        add_history("officer", officer.id, "新建", changes, actor)
        record("officer.created", officer, details={"cert_no": officer.cert_no, "name": officer.name}, user=actor)
        return officer
    changes = diff(OFFICER_FIELDS, _values(officer, OFFICER_FIELDS), clean, lookups)
    if changes:
        for key, value in clean.items():
            setattr(officer, key, value)
        action = "状态变更" if {c[0] for c in changes} == {"在岗状态"} else "修改"
        add_history("officer", officer.id, action, changes, actor)
        record("officer.updated", officer, details={"cert_no": officer.cert_no, "changes": [list(c) for c in changes]},
               user=actor)
    return officer


def link_officer_account(officer: Officer, username: str, actor=None) -> None:
    """Link (or with an empty name unlink) the officer's login account."""
    from ..auth.models import User
    from ..core.roles import INSPECTOR

    username = normalize_text(username)
    user = None
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise RegistryError({"account": f"账号 {username} 不存在"})
        if user.role != INSPECTOR or user.unit_id != officer.unit_id:
            raise RegistryError({"account": "只能关联本单位的检查人员账号"})
        taken = db.session.scalar(select(Officer).where(Officer.user_id == user.id, Officer.id != officer.id))
        if taken is not None:
            raise RegistryError({"account": f"账号 {username} 已关联到 {taken.name}"})
    before = officer.user.username if officer.user else ""
    if before == (user.username if user else ""):
        return
    officer.user_id = user.id if user else None
    add_history("officer", officer.id, "修改", [("登录账号", before, user.username if user else "")], actor)
    record("officer.account_linked", officer, details={"username": username}, user=actor)


# -------------------------------------------------------------------- recusals

def declare_recusal(officer: Officer, enterprise: Enterprise, reason: str, declared_on: date | None,
                    actor=None) -> Recusal:
    reason = clean_text(reason)
    errors = {}
    if not reason:
        errors["reason"] = "请填写回避理由"
    elif len(reason) > 200:
        errors["reason"] = "回避理由不能超过 200 个字"
    if declared_on is None:
        declared_on = local_today()
    if declared_on > local_today():
        errors["declared_on"] = "申报日期不能晚于今天"
    existing = db.session.scalar(select(Recusal).where(Recusal.officer_id == officer.id,
                                                       Recusal.enterprise_id == enterprise.id))
    if existing is not None:
        errors["officer"] = f"{officer.name} 对该企业的回避申报已存在"
    if errors:
        raise RegistryError(errors)
    recusal = Recusal(officer=officer, enterprise=enterprise, reason=reason, declared_on=declared_on,
                      created_by=_actor_name(actor))
    db.session.add(recusal)
    db.session.flush()
    change = [("回避", "", f"{officer.name}（{officer.cert_no}）↔ {enterprise.name}：{reason}")]
    add_history("officer", officer.id, "回避申报", change, actor)
    add_history("enterprise", enterprise.id, "回避申报", change, actor)
    record("recusal.declared", recusal, details={"officer": officer.cert_no, "enterprise": enterprise.uscc,
                                                 "reason": reason}, user=actor)
    return recusal


def withdraw_recusal(recusal: Recusal, actor=None) -> None:
    change = [("回避", f"{recusal.officer.name}（{recusal.officer.cert_no}）↔ {recusal.enterprise.name}：{recusal.reason}",
               "")]
    add_history("officer", recusal.officer_id, "撤回回避", change, actor)
    add_history("enterprise", recusal.enterprise_id, "撤回回避", change, actor)
    record("recusal.withdrawn", recusal, details={"officer": recusal.officer.cert_no,
                                                  "enterprise": recusal.enterprise.uscc}, user=actor)
    db.session.delete(recusal)


# ------------------------------------------------------------------ categories

def add_category(name: str, actor=None) -> ProductCategory:
    name = clean_text(name)
    if not name:
        raise RegistryError({"name": "请填写类别名称"})
    if len(name) > 60:
        raise RegistryError({"name": "类别名称不能超过 60 个字"})
    if db.session.scalar(select(ProductCategory).where(ProductCategory.name == name)):
        raise RegistryError({"name": f"类别“{name}”已存在"})
    order = (db.session.scalar(select(func.max(ProductCategory.sort_order))) or 0) + 1
    category = ProductCategory(name=name, sort_order=order)
    db.session.add(category)
    db.session.flush()
    record("category.created", category, details={"name": name}, user=actor)
    return category


def update_category(category: ProductCategory, name: str, active: bool, actor=None) -> None:
    name = clean_text(name)
    if not name:
        raise RegistryError({"name": "请填写类别名称"})
    clash = db.session.scalar(select(ProductCategory).where(ProductCategory.name == name,
                                                            ProductCategory.id != category.id))
    if clash:
        raise RegistryError({"name": f"类别“{name}”已存在"})
    changes = {}
    if category.name != name:
        changes["name"] = [category.name, name]
        category.name = name
    if category.active != active:
        changes["active"] = [category.active, active]
        category.active = active
    if changes:
        record("category.updated", category, details=changes, user=actor)


def unit_choices(actor) -> list[Unit]:
    units = [u for u in all_units() if not u.is_city]
    if actor.role != CITY_ADMIN:
        units = [u for u in units if u.id == actor.unit_id]
    return units

