"""All-or-nothing import of enterprises, equipment lists and officers.

``analyse()`` reads the file and checks every row against the rules and the
database without writing anything: the preview shows every problem as
(行, 列, 说明). ``apply()`` runs the same analysis again inside the writing
transaction and writes only if no problem is left, so a file is imported
whole or not at all. Re-importing updates the records matched by 统一社会信用代码
(enterprises, equipment) or 执法证号 (officers) and records each changed field.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text

from ..audit.services import record, record_many
from ..core.roles import CITY_ADMIN
from ..core.timeutil import utcnow
from ..db_setup import bulk_insert, lock_row
from ..extensions import db
from .fields import (ENTERPRISE_FIELDS, EQUIPMENT_FIELDS, OFFICER_FIELDS, FieldSpec, Lookups,
                     check_enterprise, clean_record, diff, show_value)
from .models import ChangeRecord, Enterprise, EquipmentRecord, ImportBatch, Officer
from .services import build_lookups
from .tabular import CellProblem, TableError, read_table, records

MAX_IMPORT_ROWS = 50_000


@dataclass(frozen=True)
class ImportKind:
    key: str
    label: str
    specs: list[FieldSpec]
    match_label: str


KINDS = {
    "enterprises": ImportKind("enterprises", "生产企业", ENTERPRISE_FIELDS, "统一社会信用代码"),
    "equipment": ImportKind("equipment", "关键生产设备（取证时）", EQUIPMENT_FIELDS, "统一社会信用代码"),
    "officers": ImportKind("officers", "执法检查人员", OFFICER_FIELDS, "执法证号"),
}


@dataclass
class RowPlan:
    row: int
    key: str
    label: str
    action: str                    # create | update | unchanged
    clean: dict
    changes: list = field(default_factory=list)


@dataclass
class ImportPreview:
    kind: ImportKind
    filename: str
    rows: int = 0
    problems: list[CellProblem] = field(default_factory=list)
    plans: list[RowPlan] = field(default_factory=list)
    # equipment: {uscc: [rows]}
    groups: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0

    @property
    def creates(self) -> list[RowPlan]:
        return [p for p in self.plans if p.action == "create"]

    @property
    def updates(self) -> list[RowPlan]:
        return [p for p in self.plans if p.action == "update"]

    @property
    def unchanged(self) -> int:
        return sum(1 for p in self.plans if p.action == "unchanged")

    def summary(self) -> dict:
        return {"rows": self.rows, "created": len(self.creates), "updated": len(self.updates),
                "unchanged": self.unchanged}


class ImportRejected(Exception):
    def __init__(self, preview: ImportPreview):
        super().__init__(f"{len(preview.problems)} problems")
        self.preview = preview


def _file_problem(preview: ImportPreview, message: str) -> ImportPreview:
    preview.problems.append(CellProblem(0, "", message))
    return preview


def analyse(kind_key: str, data: bytes, filename: str, actor=None) -> ImportPreview:
    kind = KINDS[kind_key]
    preview = ImportPreview(kind, filename)
    try:
        table = read_table(data, filename, max_rows=MAX_IMPORT_ROWS)
        recs = records(table, [spec.column for spec in kind.specs])
    except TableError as exc:
        for detail in exc.details:
            _file_problem(preview, detail)
        return preview
    preview.rows = len(recs)
    preview.problems.extend(table.problems)
    bad_cells = {(p.row, p.column) for p in table.problems}
    headers = {spec.key: spec.header for spec in kind.specs}
    lookups = build_lookups()
    cleaned = []
    for rec in recs:
        raw = {k: v for k, v in rec.values.items() if (rec.row, headers[k]) not in bad_cells}
        # Optional columns absent from the file are left alone on update.
        raw = {k: v for k, v in raw.items() if k in rec.values}
        clean, errors = clean_record(kind.specs, raw, lookups)
        if kind_key == "enterprises":
            check_enterprise(clean, errors, lookups)
        _scope_errors(kind_key, clean, errors, actor)
        for key, message in errors.items():
            preview.problems.append(CellProblem(rec.row, headers[key], message))
        cleaned.append((rec.row, clean, errors))
    _present_columns = {spec.key for spec in kind.specs if spec.key in _mapped_keys(table, kind)}
    if kind_key == "enterprises":
        _plan_enterprises(preview, cleaned, lookups, _present_columns)
    elif kind_key == "officers":
        _plan_officers(preview, cleaned, lookups, _present_columns)
    else:
        _plan_equipment(preview, cleaned, actor)
    preview.problems.sort(key=lambda p: (p.row, p.column))
    return preview


def _mapped_keys(table, kind) -> set[str]:
    from .tabular import map_headers

    return set(map_headers(table.headers, [spec.column for spec in kind.specs]))


def _scope_errors(kind_key: str, clean: dict, errors: dict, actor) -> None:
    if actor is None or actor.role == CITY_ADMIN or kind_key == "equipment":
        return
    if "unit_id" in clean and clean["unit_id"] != actor.unit_id:
        errors.setdefault("unit_id", f"只能导入本单位（{actor.unit.name}）的数据")


def _duplicates(preview, cleaned, key, header):
    seen: dict[str, int] = {}
    for row, clean, _errors in cleaned:
        value = clean.get(key)
        if not value:
            continue
        if value in seen:
            preview.problems.append(CellProblem(row, header, f"与第 {seen[value]} 行重复：{value}"))
        else:
            seen[value] = row


def _plan_enterprises(preview, cleaned, lookups: Lookups, present: set[str]) -> None:
    _duplicates(preview, cleaned, "uscc", "统一社会信用代码")
    _duplicates(preview, cleaned, "licence_no", "生产许可证编号")
    usccs = [c["uscc"] for _r, c, _e in cleaned if c.get("uscc")]
    existing = _load_by(Enterprise, Enterprise.uscc, usccs)
    licences = {c["licence_no"] for _r, c, _e in cleaned if c.get("licence_no")}
    licence_owner = _owners(Enterprise.licence_no, Enterprise.uscc, licences)
    for row, clean, errors in cleaned:
        if errors or "uscc" not in clean:
            continue
        owner = licence_owner.get(clean.get("licence_no"))
        if owner is not None and owner != clean["uscc"]:
            preview.problems.append(CellProblem(row, "生产许可证编号",
                                                f"生产许可证编号 {clean['licence_no']} 已登记在企业 {owner} 名下"))
            continue
        current = existing.get(clean["uscc"])
        values = {k: v for k, v in clean.items() if k in present}
        _add_plan(preview, row, clean["uscc"], clean.get("name", ""), current, values, ENTERPRISE_FIELDS, lookups)


def _plan_officers(preview, cleaned, lookups, present) -> None:
    _duplicates(preview, cleaned, "cert_no", "执法证号")
    existing = _load_by(Officer, Officer.cert_no, [c["cert_no"] for _r, c, _e in cleaned if c.get("cert_no")])
    for row, clean, errors in cleaned:
        if errors or "cert_no" not in clean:
            continue
        values = {k: v for k, v in clean.items() if k in present}
        _add_plan(preview, row, clean["cert_no"], clean.get("name", ""), existing.get(clean["cert_no"]), values,
                  OFFICER_FIELDS, lookups)


def _add_plan(preview, row, key, label, current, values, specs, lookups) -> None:
    if current is None:
        missing = [spec.header for spec in specs if spec.required and spec.key not in values]
        if missing:
            preview.problems.append(CellProblem(row, missing[0], "新登记记录缺少必填项：" + "、".join(missing)))
            return
        preview.plans.append(RowPlan(row, key, label, "create", values))
        return
    changes = diff(specs, {spec.key: getattr(current, spec.key) for spec in specs}, values, lookups)
    preview.plans.append(RowPlan(row, key, label, "update" if changes else "unchanged", values, changes))


def _plan_equipment(preview, cleaned, actor) -> None:
    usccs = sorted({c["uscc"] for _r, c, _e in cleaned if c.get("uscc")})
    existing = _load_by(Enterprise, Enterprise.uscc, usccs)
    groups: dict[str, list] = {}
    for row, clean, errors in cleaned:
        if "uscc" not in clean:
            continue
        enterprise = existing.get(clean["uscc"])
        if enterprise is None:
            preview.problems.append(CellProblem(row, "统一社会信用代码", f"企业 {clean['uscc']} 未登记，请先导入企业"))
            continue
        if actor is not None and actor.role != CITY_ADMIN and enterprise.unit_id != actor.unit_id:
            preview.problems.append(CellProblem(row, "统一社会信用代码",
                                                f"企业 {enterprise.name} 不属于本单位，不能导入其设备"))
            continue
        if not errors:
            groups.setdefault(clean["uscc"], []).append(clean)
    for uscc, rows in groups.items():
        enterprise = existing[uscc]
        before = [(e.name, e.model, e.quantity) for e in enterprise.equipment]
        after = [(r["name"], r.get("model", ""), r["quantity"]) for r in rows]
        action = "unchanged" if before == after else ("create" if not before else "update")
        preview.plans.append(RowPlan(0, uscc, enterprise.name, action, {"rows": rows},
                                     [("关键生产设备", f"{len(before)} 台（套）记录", f"{len(after)} 台（套）记录")]
                                     if action != "unchanged" else []))
    preview.groups = groups


def _load_by(model, column, values) -> dict:
    found = {}
    values = list(values)
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        for obj in db.session.scalars(select(model).where(column.in_(chunk))):
            found[getattr(obj, column.key)] = obj
    return found


def _owners(column, owner_column, values) -> dict:
    owners = {}
    values = list(values)
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        for value, owner in db.session.execute(select(column, owner_column).where(column.in_(chunk))):
            owners[value] = owner
    return owners


# ------------------------------------------------------------------- applying

def apply(kind_key: str, data: bytes, filename: str, actor=None) -> ImportPreview:
    """Analyse again and write everything, or raise ImportRejected having written nothing.

    The caller commits (or rolls back on any exception).
    """
    preview = analyse(kind_key, data, filename, actor)
    if not preview.ok:
        raise ImportRejected(preview)
    lookups = build_lookups()
    username = actor.username if actor is not None else "system"
    history: list[dict] = []
    audit: list[dict] = []
    now = utcnow()
    if kind_key == "equipment":
        _apply_equipment(preview, history, audit, username, now)
    else:
        model = Enterprise if kind_key == "enterprises" else Officer
        specs = preview.kind.specs
        object_type = "enterprise" if kind_key == "enterprises" else "officer"
        key_attr = "uscc" if kind_key == "enterprises" else "cert_no"
        creates = preview.creates
        if creates:
            rows = [dict(p.clean, created_at=now, updated_at=now) for p in creates]
            ids = db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows).all()
            for plan, ident in zip(creates, ids):
                for spec in specs:
                    if spec.key in plan.clean:
                        history.append(dict(object_type=object_type, object_id=ident, at=now, username=username,
                                            action="导入新建", field=spec.header, old="",
                                            new=show_value(spec, plan.clean[spec.key], lookups)))
                audit.append({"action": f"{object_type}.imported", "object_type": object_type, "object_id": ident,
                              "details": {key_attr: plan.key, "created": True}})
        updates = preview.updates
        if updates:
            current = _load_by(model, getattr(model, key_attr), [p.key for p in updates])
            for plan in updates:
                obj = current[plan.key]
                for key, value in plan.clean.items():
                    setattr(obj, key, value)
                obj.updated_at = now
                for header, old, new in plan.changes:
                    history.append(dict(object_type=object_type, object_id=obj.id, at=now, username=username,
                                        action="导入修改", field=header, old=old, new=new))
                audit.append({"action": f"{object_type}.imported", "object_type": object_type, "object_id": obj.id,
                              "details": {key_attr: plan.key, "changes": [list(c) for c in plan.changes]}})
            db.session.flush()
    _insert_rows(ChangeRecord.__table__, history)
    record_many(audit, user=actor)
    _refresh_statistics(kind_key, len(preview.creates))
    record("import.applied", object_type="import", object_id=kind_key,
           details={"file": filename, "sha256": hashlib.sha256(data).hexdigest(), **preview.summary()}, user=actor)
    return preview


def _insert_rows(table, rows: list[dict]) -> None:
    bulk_insert(db.session, table, rows)


def _refresh_statistics(kind_key: str, created: int) -> None:
    """After a large insert PostgreSQL's planner still thinks the table is small and
    scans it for every lookup (0.15 s per 500-key query at 10,000 rows); ANALYZE
    now rather than waiting for autovacuum. It runs inside the transaction."""
    if created < 1000 or db.session.get_bind().dialect.name != "postgresql":
        return
    table = {"enterprises": "enterprise", "officers": "officer", "equipment": "equipment_record"}[kind_key]
    db.session.execute(text(f"ANALYZE {table}"))
    db.session.execute(text("ANALYZE change_record"))


def _apply_equipment(preview, history, audit, username, now) -> None:
    targets = [p for p in preview.plans if p.action != "unchanged"]
    enterprises = _load_by(Enterprise, Enterprise.uscc, [p.key for p in targets])
    ids = [enterprises[p.key].id for p in targets]
    for start in range(0, len(ids), 500):
        db.session.execute(EquipmentRecord.__table__.delete().where(
            EquipmentRecord.enterprise_id.in_(ids[start:start + 500])))
    rows = []
    for plan in targets:
        enterprise = enterprises[plan.key]
        for position, row in enumerate(plan.clean["rows"]):
            rows.append({"enterprise_id": enterprise.id, "position": position, "name": row["name"],
                         "model": row.get("model", ""), "quantity": row["quantity"]})
        shown = "；".join(f"{r['name']} {r.get('model', '')} ×{r['quantity']}" for r in plan.clean["rows"])
        history.append(dict(object_type="enterprise", object_id=enterprise.id, at=now, username=username,
                            action="导入修改", field="关键生产设备", old=plan.changes[0][1], new=shown))
        audit.append({"action": "enterprise.equipment_imported", "object_type": "enterprise",
                      "object_id": enterprise.id, "details": {"uscc": plan.key, "rows": len(plan.clean["rows"])}})
    _insert_rows(EquipmentRecord.__table__, rows)
    for enterprise in enterprises.values():
        db.session.expire(enterprise, ["equipment"])


# ------------------------------------------------------------ preview batches

def stage(kind_key: str, data: bytes, filename: str, actor) -> tuple[ImportBatch, ImportPreview]:
    """Keep the uploaded file for the confirmation step and return its preview."""
    preview = analyse(kind_key, data, filename, actor)
    batch = ImportBatch(kind=kind_key, filename=filename[:200], sha256=hashlib.sha256(data).hexdigest(),
                        content=data, user_id=actor.id, unit_id=actor.unit_id,
                        status="previewed" if preview.ok else "rejected",
                        summary=json.dumps(preview.summary(), ensure_ascii=False))
    db.session.add(batch)
    db.session.flush()
    record("import.previewed", batch, details={"kind": kind_key, "file": filename, "ok": preview.ok,
                                               "problems": len(preview.problems), **preview.summary()}, user=actor)
    return batch, preview


class AlreadyApplied(Exception):
    pass


def apply_batch(batch_id: int, actor) -> tuple[ImportBatch, ImportPreview]:
    """Apply a staged file once; a second confirmation (double click, retry) changes nothing."""
    batch = lock_row(db.session, ImportBatch, batch_id)
    if batch.status == "applied":
        raise AlreadyApplied(batch)
    preview = apply(batch.kind, batch.content, batch.filename, actor)
    batch.status = "applied"
    batch.applied_at = utcnow()
    batch.summary = json.dumps(preview.summary(), ensure_ascii=False)
    batch.content = b""  # the data now lives in the registry; keep only the hash
    return batch, preview
