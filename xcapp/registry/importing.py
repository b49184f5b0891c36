"""All-or-nothing import of enterprises, equipment lists and officers.

``analyse()`` reads the file and checks every row against the rules and the
database without writing anything: the preview shows every problem as
(行, 列, 说明). Re-importing updates the records matched by 统一社会信用代码
(enterprises, equipment) or 执法证号 (officers) and records each changed field.

Scope (issue 11.1): a county admin may create or update only records of its own
unit: the unit written in the file and the unit of the existing record matched by
its key must both be the admin's. Moving a record to another unit is a city-admin
change, recorded in the history like any other field.

Writing (issue 11.2). The slow part, reading and checking the file, runs before
any write lock (the routes are ``late_write_lock``; parsing 38,000 rows takes
seconds). Then ``apply()`` writes enterprises and officers in chunks of at most
``WRITE_CHUNK`` records, each in a short write transaction of its own, so other
officers' saves run between the chunks. On SQLite, where a chunk holds the whole
database's write lock, a chunk is written in parts of ``WRITE_PART`` records and
is committed after any part as soon as another writer (a save, a login) waits: the
save waits for one part, not for a whole chunk. All or nothing is kept this way:

* every row was validated before the first chunk, so a chunk can only fail
  because the database changed since the analysis (another admin edited, created
  or moved one of the file's records, or took one of its licence numbers) or
  because the database itself failed;
* each chunk re-checks, under its write lock, that the records it writes are
  exactly as the analysis saw them (same id and ``updated_at``, still absent for
  new ones, licence numbers still free), and writes nothing if not;
* on any failure after the first chunk, the chunks already written are reverted
  in one transaction (new records and their history deleted, updated records put
  back to the analysed values unless someone changed them since), an
  ``import.reverted`` audit row says so, and the import is refused with the
  problem, having changed nothing.

A process killed between chunks leaves the batch ``applying``: confirming it
again (after ``RESUME_AFTER``) re-analyses the file, the rows already written are
then unchanged, and the rest is written. Equipment lists are written in one
short transaction (they are small); their analysis also runs before the lock.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from ..audit.services import record, record_many
from ..core import slow
from ..core.roles import CITY_ADMIN
from ..core.timeutil import utcnow
from ..db_setup import begin_write, bulk_insert, bulk_writes, is_sqlite, lock_row, writers_waiting
from ..extensions import db
from .fields import (ENTERPRISE_FIELDS, EQUIPMENT_FIELDS, IGNORED_HEADERS, OFFICER_FIELDS, RISK_FIELDS,
                     RISK_PENDING, FieldSpec, Lookups, check_enterprise, clean_record, diff, propose_unit,
                     show_value)
from .models import ChangeRecord, Enterprise, EquipmentRecord, ImportBatch, Officer
from .services import build_lookups
from .tabular import CellProblem, TableError, header_text, known_keys, map_headers, read_table, records

MAX_IMPORT_ROWS = 50_000
WRITE_CHUNK = 50                        # records per write transaction at most (about 850 rows with history)
WRITE_PART = 10                         # SQLite: a transaction ends after any part of this many when a save waits
RESUME_AFTER = timedelta(minutes=2)     # an 'applying' batch without progress for this long may be resumed
STALE_MESSAGE = "该记录在预览后已被修改（或被他人登记），请重新上传文件预览后再确认导入"


@dataclass(frozen=True)
class ImportKind:
    key: str
    label: str
    specs: list[FieldSpec]
    match_label: str
    # Headers read and ignored without asking (the licence database's columns the registry does not keep).
    ignored: tuple[str, ...] = ()


KINDS = {
    "enterprises": ImportKind("enterprises", "生产企业", ENTERPRISE_FIELDS, "统一社会信用代码", IGNORED_HEADERS),
    "equipment": ImportKind("equipment", "关键生产设备（取证时）", EQUIPMENT_FIELDS, "统一社会信用代码"),
    "officers": ImportKind("officers", "执法检查人员", OFFICER_FIELDS, "执法证号"),
    # Issue 13.4: the risk classes of enterprises already registered (统一社会信用代码, 风险等级).
    "risk": ImportKind("risk", "企业风险分级结果", RISK_FIELDS, "统一社会信用代码"),
}

#: The choice "ignore this column" in the mapping step.
IGNORE = ""


class MappingError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("；".join(messages))
        self.messages = messages


@dataclass
class RowPlan:
    row: int
    key: str
    label: str
    action: str                    # create | update | unchanged
    clean: dict
    changes: list = field(default_factory=list)
    # What the analysis saw: (id, updated_at) of the matched record (None: no record),
    # and the record's values of the fields the file sets (to revert a failed import).
    stamp: tuple | None = None
    old: dict = field(default_factory=dict)
    # A new enterprise without 所属单位: the unit proposed from its address, shown for confirmation.
    proposed_unit: str = ""


@dataclass
class ImportPreview:
    kind: ImportKind
    filename: str
    rows: int = 0
    problems: list[CellProblem] = field(default_factory=list)
    plans: list[RowPlan] = field(default_factory=list)
    # equipment: {uscc: [rows]}
    groups: dict = field(default_factory=dict)
    # The mapping step: headers the import does not know (as written), and the user's choices.
    unknown_headers: list[str] = field(default_factory=list)
    mapping: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0

    @property
    def needs_mapping(self) -> bool:
        """Unknown headers not (all) mapped yet: the preview asks for the mapping."""
        return any(h not in self.mapping for h in self.unknown_headers)

    @property
    def proposals(self) -> list[RowPlan]:
        return [p for p in self.plans if p.proposed_unit]

    @property
    def pending_risk(self) -> int:
        return sum(1 for p in self.plans if p.action == "create" and p.clean.get("risk") == RISK_PENDING)

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


class AlreadyApplied(Exception):
    pass


class ImportInProgress(Exception):
    pass


def _file_problem(preview: ImportPreview, message: str) -> ImportPreview:
    preview.problems.append(CellProblem(0, "", message))
    return preview


# ------------------------------------------------------------------ analysing

def unknown_headers(kind: ImportKind, headers) -> list[str]:
    """The file's headers that no column name, alias or ignored name matches (as written)."""
    try:
        map_headers(headers, [spec.column for spec in kind.specs], ignore=kind.ignored)
    except TableError as exc:
        return exc.unknown
    return []


def analyse(kind_key: str, data: bytes, filename: str, actor=None, mapping: dict | None = None) -> ImportPreview:
    """Read and check the whole file against the rules and the database; writes nothing.

    ``mapping`` is the user's choice for headers the import does not know
    ({header: field key, or IGNORE}); without it such headers are problems and the
    preview asks for the mapping (``needs_mapping``)."""
    kind = KINDS[kind_key]
    mapping = dict(mapping or {})
    preview = ImportPreview(kind, filename, mapping=mapping)
    columns = [spec.column for spec in kind.specs]
    try:
        # Parsing is pure and slow: on the low-priority thread (see core.slow).
        table = slow.run(read_table, data, filename, max_rows=MAX_IMPORT_ROWS)
        preview.unknown_headers = unknown_headers(kind, table.headers)
        positions = map_headers(table.headers, columns, mapping, kind.ignored)
        recs = records(table, columns, mapping, kind.ignored)
    except TableError as exc:
        for detail in exc.details:
            _file_problem(preview, detail)
        return preview
    preview.rows = len(recs)
    # The header each field has in this file (an alias, a mapped header): problems are
    # named by it, and cells of ignored columns are not read at all.
    file_header = {key: header_text(table.headers[i]) for key, i in positions.items()}
    read_columns = set(file_header.values())
    # Text that merely starts like a formula is judged by the field rules, as in the
    # web form (issue 11.15); everything else the reader found stays a problem.
    file_problems = [p for p in table.problems if (p.row, p.column) not in table.formula_text
                     and (not p.row or header_text(p.column) in read_columns)]
    preview.problems.extend(file_problems)
    bad_cells = {(p.row, header_text(p.column)) for p in file_problems}
    headers = {spec.key: file_header.get(spec.key, spec.header) for spec in kind.specs}
    lookups = build_lookups()
    # Checking each row is pure and slow too (a second of CPU for 10,000 rows): on the
    # low-priority thread, so saves made meanwhile get the CPU first.
    cleaned, problems = slow.run(_check_rows, kind_key, recs, headers, bad_cells, set(positions), lookups,
                                 _own_unit(actor))
    preview.problems.extend(problems)
    _present_columns = set(positions)
    if kind_key == "enterprises":
        _plan_enterprises(preview, cleaned, lookups, _present_columns, actor)
    elif kind_key == "risk":
        _plan_risk(preview, cleaned, lookups, actor)
    elif kind_key == "officers":
        _plan_officers(preview, cleaned, lookups, _present_columns, actor)
    else:
        _plan_equipment(preview, cleaned, actor)
    preview.problems.sort(key=lambda p: (p.row, p.column))
    return preview


def _limited(actor) -> bool:
    """A county admin (or anyone but the city admin) is limited to its own unit."""
    return actor is not None and actor.role != CITY_ADMIN


def _check_rows(kind_key: str, recs, headers: dict, bad_cells: set, present: set, lookups,
                own_unit: tuple[int, str] | None) -> tuple[list, list[CellProblem]]:
    """Each record cleaned and checked by the field rules (no database): the cleaned
    rows [(row, clean, errors)] and their problems."""
    specs = KINDS[kind_key].specs
    cleaned, problems = [], []
    for rec in recs:
        raw = {k: v for k, v in rec.values.items() if (rec.row, headers[k]) not in bad_cells}
        # Optional columns absent from the file are not read (left alone on update; a new
        # enterprise without 所属单位 / 风险等级 gets a proposal / 待定, see _plan_enterprises).
        raw = {k: v for k, v in raw.items() if k in present}
        clean, errors = clean_record(specs, raw, lookups)
        if kind_key == "enterprises":
            check_enterprise(clean, errors, lookups)
        _scope_errors(kind_key, clean, errors, own_unit)
        for key, message in errors.items():
            problems.append(CellProblem(rec.row, headers[key], message))
        cleaned.append((rec.row, clean, errors))
    return cleaned, problems


def _own_unit(actor) -> tuple[int, str] | None:
    """(unit id, unit name) of an actor limited to its own unit; None for the city admin."""
    return (actor.unit_id, actor.unit.name) if _limited(actor) else None


def _scope_errors(kind_key: str, clean: dict, errors: dict, own_unit: tuple[int, str] | None) -> None:
    if own_unit is None or kind_key in ("equipment", "risk"):
        return
    if "unit_id" in clean and clean["unit_id"] != own_unit[0]:
        errors.setdefault("unit_id", f"只能导入本单位（{own_unit[1]}）的数据")


def _foreign_record(preview, row, header, what, current, actor, lookups) -> bool:
    """11.1: the record matched by the key belongs to another unit: a problem for a county admin."""
    if not _limited(actor) or current is None or current.unit_id == actor.unit_id:
        return False
    unit = lookups.unit_labels.get(current.unit_id, "其他单位")
    preview.problems.append(CellProblem(
        row, header, f"{what}已登记在{unit}名下，本单位不能导入或修改；如需移交单位，请联系市局管理员"))
    return True


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


def _plan_enterprises(preview, cleaned, lookups: Lookups, present: set[str], actor=None) -> None:
    _duplicates(preview, cleaned, "uscc", "统一社会信用代码")
    _duplicates(preview, cleaned, "licence_no", "生产许可证编号")
    usccs = [c["uscc"] for _r, c, _e in cleaned if c.get("uscc")]
    existing = _load_by(Enterprise, Enterprise.uscc, usccs)
    licences = {c["licence_no"] for _r, c, _e in cleaned if c.get("licence_no")}
    licence_owner = _owners(Enterprise.licence_no, Enterprise.uscc, licences)
    for row, clean, errors in cleaned:
        if "uscc" not in clean:
            continue
        current = existing.get(clean["uscc"])
        if _foreign_record(preview, row, "统一社会信用代码", f"企业 {clean['uscc']} ", current, actor, lookups):
            continue
        if errors:
            continue
        owner = licence_owner.get(clean.get("licence_no"))
        if owner is not None and owner != clean["uscc"]:
            preview.problems.append(CellProblem(row, "生产许可证编号",
                                                f"生产许可证编号 {clean['licence_no']} 已登记在企业 {owner} 名下"))
            continue
        values = {k: v for k, v in clean.items() if k in present}
        proposed = ""
        if current is None:
            if "unit_id" not in present:
                unit_id = propose_unit([clean.get("production_address"), clean.get("address")], lookups)
                if unit_id is None:
                    preview.problems.append(CellProblem(
                        row, "住所", "无法从生产地址或住所判断所属单位（未写明区县或功能区），"
                                     "请在文件中加“所属单位”列填写"))
                    continue
                proposed = lookups.unit_labels.get(unit_id, "")
                if _limited(actor) and unit_id != actor.unit_id:
                    preview.problems.append(CellProblem(
                        row, "住所", f"按地址应属{proposed}，只能导入本单位（{actor.unit.name}）的数据；"
                                     "如地址有误请更正，或在文件中加“所属单位”列"))
                    continue
                values["unit_id"] = unit_id
            if "risk" not in present:
                values["risk"] = RISK_PENDING
        _add_plan(preview, row, clean["uscc"], clean.get("name", ""), current, values, ENTERPRISE_FIELDS, lookups)
        if proposed and preview.plans and preview.plans[-1].row == row:
            preview.plans[-1].proposed_unit = proposed


def _plan_risk(preview, cleaned, lookups: Lookups, actor=None) -> None:
    """Risk classes of enterprises already registered (and, for a county admin, of its unit)."""
    _duplicates(preview, cleaned, "uscc", "统一社会信用代码")
    existing = _load_by(Enterprise, Enterprise.uscc, [c["uscc"] for _r, c, _e in cleaned if c.get("uscc")])
    for row, clean, errors in cleaned:
        if "uscc" not in clean:
            continue
        current = existing.get(clean["uscc"])
        if current is None:
            preview.problems.append(CellProblem(row, "统一社会信用代码",
                                                f"企业 {clean['uscc']} 未登记：风险分级只更新已登记的企业，请先导入企业"))
            continue
        if _foreign_record(preview, row, "统一社会信用代码", f"企业 {clean['uscc']} ", current, actor, lookups):
            continue
        if errors:
            continue
        _add_plan(preview, row, clean["uscc"], current.name, current, {"risk": clean["risk"]},
                  ENTERPRISE_FIELDS, lookups)


def _plan_officers(preview, cleaned, lookups, present, actor=None) -> None:
    _duplicates(preview, cleaned, "cert_no", "执法证号")
    existing = _load_by(Officer, Officer.cert_no, [c["cert_no"] for _r, c, _e in cleaned if c.get("cert_no")])
    for row, clean, errors in cleaned:
        if "cert_no" not in clean:
            continue
        current = existing.get(clean["cert_no"])
        if _foreign_record(preview, row, "执法证号", f"执法证号 {clean['cert_no']} 的人员", current, actor, lookups):
            continue
        if errors:
            continue
        values = {k: v for k, v in clean.items() if k in present}
        _add_plan(preview, row, clean["cert_no"], clean.get("name", ""), current, values, OFFICER_FIELDS, lookups)


def _add_plan(preview, row, key, label, current, values, specs, lookups) -> None:
    if current is None:
        missing = [spec.header for spec in specs if spec.required and spec.key not in values]
        if missing:
            preview.problems.append(CellProblem(row, missing[0], "新登记记录缺少必填项：" + "、".join(missing)))
            return
        preview.plans.append(RowPlan(row, key, label, "create", values))
        return
    old = {spec.key: getattr(current, spec.key) for spec in specs}
    changes = diff(specs, old, values, lookups)
    preview.plans.append(RowPlan(row, key, label, "update" if changes else "unchanged", values, changes,
                                 stamp=(current.id, current.updated_at),
                                 old={k: old[k] for k in values}))


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
        if _limited(actor) and enterprise.unit_id != actor.unit_id:
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
                                     if action != "unchanged" else [],
                                     stamp=(enterprise.id, enterprise.unit_id), old={"rows": before}))
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

@dataclass
class _Progress:
    """What the chunks of one import have written so far (to revert it on failure)."""

    now: object
    created: list = field(default_factory=list)     # ids
    updated: list = field(default_factory=list)     # (plan, id)
    chunks: int = 0
    analysed: int = 0                                # records created when statistics were last refreshed
    kept: tuple = (0, 0)                             # len(created), len(updated) when the last chunk committed

    def committed(self) -> None:
        self.chunks += 1
        self.kept = (len(self.created), len(self.updated))

    def forget_rolled_back(self) -> None:
        """After a rollback: the records of the chunk that did not commit are not there to
        revert (and on SQLite a rolled-back id may already be another record's)."""
        del self.created[self.kept[0]:]
        del self.updated[self.kept[1]:]


class _ChunkFailed(Exception):
    def __init__(self, problems: list[CellProblem]):
        super().__init__(f"{len(problems)} stale rows")
        self.problems = problems


def apply(kind_key: str, data: bytes, filename: str, actor=None, batch_id: int | None = None,
          mapping: dict | None = None) -> ImportPreview:
    """Analyse (no lock), then write everything, or raise ImportRejected having changed nothing.

    Enterprises and officers are written and committed in chunks (see the module
    docstring); equipment lists in one transaction, committed here as well.
    With ``batch_id`` the staged batch is marked applying/applied in the chunks.
    """
    preview = analyse(kind_key, data, filename, actor, mapping)
    if not preview.ok:
        raise ImportRejected(preview)
    with bulk_writes():     # on SQLite each chunk lets waiting saves go first
        return _write(kind_key, data, filename, actor, batch_id, preview)


def _write(kind_key, data, filename, actor, batch_id, preview) -> ImportPreview:
    username = actor.username if actor is not None else "system"
    now = utcnow()
    if kind_key == "equipment":
        begin_write(db.session)
        _claim_batch(batch_id)
        try:
            _apply_equipment(preview, username, now, actor)
        except _ChunkFailed as exc:
            db.session.rollback()
            preview.problems = exc.problems
            raise ImportRejected(preview) from None
        _finish(preview, kind_key, data, filename, actor, batch_id)
        db.session.commit()
        return preview
    lookups = build_lookups()
    progress = _Progress(now)
    plans = preview.plans
    step = WRITE_PART if is_sqlite(db.engine) else WRITE_CHUNK
    done = 0
    try:
        while True:
            created_history = _created_history(kind_key, plans[done:done + WRITE_CHUNK], lookups, username, now)
            begin_write(db.session)
            _claim_batch(batch_id, done=done, total=len(plans))
            _statistics_as_it_grows(kind_key, progress)
            written, audit = 0, []
            while True:   # SQLite: parts of WRITE_PART records, and a save waiting ends the transaction
                part = plans[done + written:done + min(written + step, WRITE_CHUNK)]
                creates = sum(1 for plan in part if plan.action == "create")
                _write_chunk(kind_key, part, lookups, username, progress, created_history[:creates], audit)
                del created_history[:creates]
                written += len(part)
                if done + written >= len(plans) or written >= WRITE_CHUNK or writers_waiting(db.session):
                    break
            record_many(audit, user=actor)     # SQLite: chained here, once per transaction
            done += written
            if done >= len(plans):
                _finish(preview, kind_key, data, filename, actor, batch_id)
            db.session.commit()
            progress.committed()
            if done >= len(plans):
                break
    except IntegrityError:
        # PostgreSQL: another transaction took one of the file's keys between this
        # chunk's check and its insert (SQLite's write lock rules that out).
        db.session.rollback()
        progress.forget_rolled_back()
        if progress.chunks:
            _revert(kind_key, progress, filename, actor, batch_id, reason="stale")
        preview.problems = [CellProblem(0, "", STALE_MESSAGE)]
        raise ImportRejected(preview) from None
    except (_ChunkFailed, ImportInProgress, AlreadyApplied) as exc:
        db.session.rollback()
        progress.forget_rolled_back()
        if progress.chunks:
            _revert(kind_key, progress, filename, actor, batch_id, reason="stale")
        if isinstance(exc, _ChunkFailed):
            preview.problems = exc.problems
            raise ImportRejected(preview) from None
        raise
    except BaseException:
        db.session.rollback()
        progress.forget_rolled_back()
        if progress.chunks:
            _revert(kind_key, progress, filename, actor, batch_id, reason="error")
        raise
    return preview


def _claim_batch(batch_id, done: int = 0, total: int = 0) -> None:
    """Lock the staged batch for this chunk (the caller began writing); refuse a batch
    applied or being applied elsewhere.

    Only its state is read and written (Core): the ORM's row would bring the file
    itself, megabytes read again for every chunk."""
    if batch_id is None:
        return
    table = ImportBatch.__table__
    status, applied_at = db.session.execute(
        select(table.c.status, table.c.applied_at).where(table.c.id == batch_id).with_for_update()).one()
    if status == "applied":
        raise AlreadyApplied(db.session.get(ImportBatch, batch_id))
    now = utcnow()
    if done == 0 and status == "applying" and applied_at and now - applied_at < RESUME_AFTER:
        raise ImportInProgress(db.session.get(ImportBatch, batch_id))
    db.session.execute(update(table).where(table.c.id == batch_id).values(
        status="applying", applied_at=now,          # heartbeat while applying
        summary=json.dumps({"progress": [done, total]})))


def _finish(preview, kind_key, data, filename, actor, batch_id) -> None:
    _refresh_statistics(kind_key, len(preview.creates))
    record("import.applied", object_type="import", object_id=kind_key,
           details={"file": filename, "sha256": hashlib.sha256(data).hexdigest(), **preview.summary()}, user=actor)
    if batch_id is not None:
        batch = db.session.get(ImportBatch, batch_id)
        batch.status = "applied"
        batch.applied_at = utcnow()
        batch.summary = json.dumps(preview.summary(), ensure_ascii=False)
        batch.content = b""  # the data now lives in the registry; keep only the hash


def _model(kind_key):
    if kind_key in ("enterprises", "risk"):
        return Enterprise, Enterprise.uscc, "enterprise", "uscc", ENTERPRISE_FIELDS, "统一社会信用代码"
    return Officer, Officer.cert_no, "officer", "cert_no", OFFICER_FIELDS, "执法证号"


def _verify_chunk(kind_key: str, plans: list[RowPlan]) -> None:
    """Under the write lock: the chunk's records are as the analysis saw them."""
    header = _model(kind_key)[5]
    records, licences_taken = _verify_statements(kind_key)
    keys = [p.key for p in plans]
    now_seen = {key: (ident, updated)
                for ident, key, updated in db.session.execute(records, {"keys": keys})} if keys else {}
    problems = [CellProblem(p.row, header, f"{p.key}：{STALE_MESSAGE}")
                for p in plans if now_seen.get(p.key) != (p.stamp if p.stamp else None)]
    if kind_key == "enterprises":
        licences = {p.clean["licence_no"]: p for p in plans if p.clean.get("licence_no")}
        if licences:
            for licence, owner in db.session.execute(licences_taken, {"keys": list(licences)}):
                plan = licences[licence]
                if owner != plan.key:
                    problems.append(CellProblem(plan.row, "生产许可证编号",
                                                f"生产许可证编号 {licence} 已登记在企业 {owner} 名下（预览后登记）"))
    if problems:
        raise _ChunkFailed(sorted(problems))


@cache
def _verify_statements(kind_key: str):
    """Built once (a chunk is verified hundreds of times in a large import): the records
    of some keys with their stamps, and the owners of some licence numbers."""
    model, key_column, *_rest = _model(kind_key)
    keys = bindparam("keys", expanding=True)
    return (select(model.id, key_column, model.updated_at).where(key_column.in_(keys)),
            select(Enterprise.licence_no, Enterprise.uscc).where(Enterprise.licence_no.in_(keys)))


def _created_history(kind_key, plans, lookups, username, now) -> list[list[dict]]:
    """The history rows of each record the chunk creates, built before its write lock
    (each gets its record's id under the lock)."""
    _m, _k, object_type, _ka, specs, _h = _model(kind_key)
    return [[dict(object_type=object_type, object_id=None, at=now, username=username, action="导入新建",
                  field=spec.header, old="", new=show_value(spec, plan.clean[spec.key], lookups))
             for spec in specs if spec.key in plan.clean]
            for plan in plans if plan.action == "create"]


def _write_chunk(kind_key, plans, lookups, username, progress: _Progress, created_history: list[list[dict]],
                 audit: list[dict]) -> None:
    """Check and write the records of ``plans`` and their history; their audit rows are
    added to ``audit``, recorded by the caller once per transaction."""
    model, key_column, object_type, key_attr, _specs, _header = _model(kind_key)
    _verify_chunk(kind_key, plans)
    now = progress.now
    history: list[dict] = []
    creates = [p for p in plans if p.action == "create"]
    if creates:
        rows = [dict(p.clean, created_at=now, updated_at=now) for p in creates]
        table = model.__table__
        ids = db.session.connection().execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
        for plan, ident, rows_of_plan in zip(creates, ids, created_history):
            for row in rows_of_plan:
                row["object_id"] = ident
            history.extend(rows_of_plan)
            audit.append({"action": f"{object_type}.imported", "object_type": object_type, "object_id": ident,
                          "details": {key_attr: plan.key, "created": True}})
        progress.created.extend(ids)
    updates = [p for p in plans if p.action == "update"]
    if updates:
        current = _load_by(model, key_column, [p.key for p in updates])
        for plan in updates:
            obj = current[plan.key]
            for key, value in plan.clean.items():
                setattr(obj, key, value)
            obj.updated_at = now
            for header, old, new in plan.changes:
                history.append(dict(object_type=object_type, object_id=obj.id, at=now, username=username,
                                    action="导入修改", field=header, old=old, new=new))
            details = {key_attr: plan.key, "changes": [list(c) for c in plan.changes]}
            if "unit_id" in plan.clean and plan.old.get("unit_id") != plan.clean["unit_id"]:
                details["moved"] = [lookups.unit_labels.get(plan.old.get("unit_id"), ""),
                                    lookups.unit_labels.get(plan.clean["unit_id"], "")]
            audit.append({"action": f"{object_type}.imported", "object_type": object_type, "object_id": obj.id,
                          "details": details})
            progress.updated.append((plan, obj.id))
        db.session.flush()
    bulk_insert(db.session, ChangeRecord.__table__, history)


def _revert(kind_key, progress: _Progress, filename, actor, batch_id, reason: str) -> None:
    """Undo the chunks already committed, in one transaction (see the module docstring)."""
    model, key_column, object_type, _ka, _specs, _h = _model(kind_key)
    begin_write(db.session)
    now = progress.now
    not_restored = []
    ids = list(progress.created)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        db.session.execute(delete(ChangeRecord).where(ChangeRecord.object_type == object_type,
                                                      ChangeRecord.object_id.in_(part)))
        db.session.execute(delete(model).where(model.id.in_(part)))
    for plan, ident in progress.updated:
        obj = lock_row(db.session, model, ident)
        if obj is None or obj.updated_at != now:
            not_restored.append(plan.key)     # changed again since: left as it is now
            continue
        for key, value in plan.old.items():
            setattr(obj, key, value)
        obj.updated_at = plan.stamp[1]
        db.session.execute(delete(ChangeRecord).where(
            ChangeRecord.object_type == object_type, ChangeRecord.object_id == ident,
            ChangeRecord.action == "导入修改", ChangeRecord.at == now))
    if batch_id is not None:
        batch = db.session.get(ImportBatch, batch_id)
        if batch is not None and batch.status == "applying":
            batch.status = "previewed"
    record("import.reverted", object_type="import", object_id=kind_key,
           details={"file": filename, "reason": reason, "created_removed": len(ids),
                    "updates_restored": len(progress.updated) - len(not_restored),
                    "not_restored": not_restored[:100]}, user=actor)
    db.session.commit()


def _refresh_statistics(kind_key: str, created: int, history: bool = True) -> None:
    """After a large insert PostgreSQL's planner still thinks the table is small and
    scans it for every lookup (0.15 s per 500-key query at 10,000 rows); ANALYZE
    now rather than waiting for autovacuum. It runs inside the transaction."""
    if created < 1000 or db.session.get_bind().dialect.name != "postgresql":
        return
    table = {"enterprises": "enterprise", "officers": "officer", "equipment": "equipment_record",
             "risk": "enterprise"}[kind_key]
    db.session.execute(text(f"ANALYZE {table}"))
    if history:
        db.session.execute(text("ANALYZE change_record"))


def _statistics_as_it_grows(kind_key: str, progress: _Progress) -> None:
    """During a large import too: each chunk looks its records up by key, and with the
    statistics of the table before the import PostgreSQL scanned the whole growing
    table for every chunk (11 ms per lookup at 5,000 rows, half the import's time).
    ANALYZE whenever what the import created has doubled since, from 1,000 on."""
    created = len(progress.created)
    if created >= max(1000, 2 * progress.analysed):
        _refresh_statistics(kind_key, created, history=False)
        progress.analysed = created


def _apply_equipment(preview, username, now, actor) -> None:
    targets = [p for p in preview.plans if p.action != "unchanged"]
    enterprises = _load_by(Enterprise, Enterprise.uscc, [p.key for p in targets])
    stale = []
    for plan in preview.plans:
        enterprise = enterprises.get(plan.key) if plan.action != "unchanged" else None
        if plan.action == "unchanged":
            continue
        db.session.refresh(enterprise, ["equipment"])
        before = [(e.name, e.model, e.quantity) for e in enterprise.equipment]
        if (enterprise.id, enterprise.unit_id) != plan.stamp or before != plan.old["rows"]:
            stale.append(CellProblem(0, "统一社会信用代码", f"{plan.key}：{STALE_MESSAGE}"))
    if stale:
        raise _ChunkFailed(stale)
    history: list[dict] = []
    audit: list[dict] = []
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
    bulk_insert(db.session, EquipmentRecord.__table__, rows)
    bulk_insert(db.session, ChangeRecord.__table__, history)
    record_many(audit, user=actor)
    for enterprise in enterprises.values():
        db.session.expire(enterprise, ["equipment"])


# ------------------------------------------------------------ preview batches

def problems_json(problems: list[CellProblem], limit: int = 1000) -> str:
    return json.dumps([list(p) for p in problems[:limit]], ensure_ascii=False)


def _status(preview: ImportPreview) -> str:
    if preview.ok:
        return "previewed"
    return "mapping" if preview.needs_mapping else "rejected"


def stage(kind_key: str, data: bytes, filename: str, actor) -> tuple[ImportBatch, ImportPreview]:
    """Check the file (before any write lock), then keep it for the confirmation step.

    The problem list is kept with the batch; the file itself is deleted on
    confirmation, and for rejected or never-confirmed files after
    ``IMPORT_FILE_RETENTION_DAYS`` by ``purge_expired_files`` (issue 11.14).
    """
    preview = analyse(kind_key, data, filename, actor)
    begin_write(db.session)
    batch = ImportBatch(kind=kind_key, filename=filename[:200], sha256=hashlib.sha256(data).hexdigest(),
                        content=data, user_id=actor.id, unit_id=actor.unit_id,
                        status=_status(preview),
                        summary=json.dumps(preview.summary(), ensure_ascii=False),
                        problems=problems_json(preview.problems))
    db.session.add(batch)
    db.session.flush()
    record("import.previewed", batch, details={"kind": kind_key, "file": filename, "ok": preview.ok,
                                               "problems": len(preview.problems), **preview.summary()}, user=actor)
    return batch, preview


def apply_batch(batch_id: int, actor) -> tuple[ImportBatch, ImportPreview]:
    """Apply a staged file once; a second confirmation (double click, retry) changes nothing.

    The analysis runs before the write lock; the chunks re-check the batch's state.
    """
    batch = db.session.get(ImportBatch, batch_id)
    if batch.status == "applied":
        raise AlreadyApplied(batch)
    if batch.status == "applying" and batch.applied_at and utcnow() - batch.applied_at < RESUME_AFTER:
        raise ImportInProgress(batch)
    kind, content, filename = batch.kind, batch.content, batch.filename
    if batch.purged_at is not None or not content:
        preview = ImportPreview(KINDS[kind], filename)
        raise ImportRejected(_file_problem(preview, "该文件已超过保留期限被删除，请重新上传后预览"))
    preview = apply(kind, content, filename, actor, batch_id=batch_id, mapping=batch.mapping_dict)
    return db.session.get(ImportBatch, batch_id), preview


REMAPPABLE = ("mapping", "previewed", "rejected")


def batch_preview(batch: ImportBatch, actor) -> ImportPreview:
    """The preview of a staged file as it stands (with the batch's mapping); writes nothing."""
    return analyse(batch.kind, batch.content, batch.filename, actor, batch.mapping_dict)


def check_mapping(kind: ImportKind, headers, chosen: dict) -> dict:
    """Validate the user's mapping of the file's unknown headers; return it or raise MappingError.

    Every unknown header gets a field of the kind or IGNORE; no field twice, and none
    that a known header of the file already fills."""
    unknown = unknown_headers(kind, headers)
    allowed = {spec.key: spec.header for spec in kind.specs}
    present = known_keys(headers, [spec.column for spec in kind.specs])
    errors, mapping, used = [], {}, {}
    for header in unknown:
        target = chosen.get(header)
        if target is None:
            errors.append(f"请为列“{header}”选择对应项（或选“忽略此列”）")
            continue
        if target != IGNORE and target not in allowed:
            errors.append(f"列“{header}”的对应项无效")
            continue
        if target in present:
            errors.append(f"列“{header}”不能对应“{allowed[target]}”：文件中已有该列")
            continue
        if target != IGNORE and target in used:
            errors.append(f"列“{header}”和“{used[target]}”不能同时对应“{allowed[target]}”")
            continue
        if target != IGNORE:
            used[target] = header
        mapping[header] = target
    unexpected = [h for h in chosen if h not in unknown]
    if unexpected:
        errors.append("提交的列不在文件中或无需对应：" + "、".join(unexpected[:10]))
    if errors:
        raise MappingError(errors)
    return mapping


def remap(batch_id: int, chosen: dict, actor) -> tuple[ImportBatch, ImportPreview]:
    """Keep the user's column mapping with the staged file and preview it again (audited).

    Raises MappingError (nothing changed) for an invalid mapping or a batch that can no
    longer be mapped (applied, being applied, file deleted)."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch.status not in REMAPPABLE or batch.purged_at is not None or not batch.content:
        raise MappingError(["该文件已导入或已删除，不能再修改列的对应关系；如需导入请重新上传"])
    kind = KINDS[batch.kind]
    try:
        table = read_table(batch.content, batch.filename, max_rows=MAX_IMPORT_ROWS)
    except TableError as exc:
        raise MappingError(exc.details) from None
    mapping = check_mapping(kind, table.headers, chosen)
    preview = analyse(batch.kind, batch.content, batch.filename, actor, mapping)
    begin_write(db.session)
    batch = db.session.get(ImportBatch, batch_id)
    if batch.status not in REMAPPABLE:
        raise MappingError(["该文件已导入或正在导入，不能再修改列的对应关系"])
    batch.mapping = json.dumps(mapping, ensure_ascii=False)
    batch.status = _status(preview)
    batch.summary = json.dumps(preview.summary(), ensure_ascii=False)
    batch.problems = problems_json(preview.problems)
    record("import.mapped", batch, details={"kind": batch.kind, "file": batch.filename, "mapping": mapping,
                                            "ok": preview.ok, "problems": len(preview.problems),
                                            **preview.summary()}, user=actor)
    return batch, preview


def purge_expired_files(days: int, now=None, actor=None) -> int:
    """Delete the content of rejected and never-confirmed files older than ``days``;
    their problem list, name, hash and summary stay. Audited. Returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    expired = db.session.scalars(
        select(ImportBatch).where(ImportBatch.status.in_(("rejected", "previewed", "mapping")),
                                  ImportBatch.created_at < cutoff, ImportBatch.purged_at.is_(None))
        .order_by(ImportBatch.id)).all()
    for batch in expired:
        batch.content = b""
        batch.purged_at = now
        if batch.status in ("previewed", "mapping"):
            batch.status = "expired"
    if expired:
        record("import.files_purged", object_type="import", object_id="",
               details={"count": len(expired), "batches": [b.id for b in expired][:1000], "days": days},
               user=actor)
    return len(expired)
