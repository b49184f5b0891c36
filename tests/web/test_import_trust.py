"""Issue 11.1 (an import never takes over another unit's records) and 11.2 (the import
reads and checks the file before the write lock, then writes in short chunks that
other saves run between, and a failure half-way leaves nothing written)."""
import io
import threading
import time

import pytest
from sqlalchemy import func, select, update

from xcapp.audit.models import AuditLog
from xcapp.audit.services import verify_chain
from xcapp.extensions import db
from xcapp.registry import importing
from xcapp.registry.importing import ImportRejected, analyse, apply
from xcapp.registry.models import ChangeRecord, Enterprise, ImportBatch, Officer

from .test_import import csv_bytes, row, uscc

OFFICER_HEAD = "姓名,执法证号,单位,执法证有效期至,在岗状态\r\n"


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def problems(preview):
    return [(p.row, p.column, p.message) for p in preview.problems]


# ---------------------------------------------------------------- 11.1 scope

def test_county_import_cannot_update_another_units_enterprise(app, make_user, make_enterprise):
    other = make_enterprise(unit="411081", name="禹州市钧瓷电缆有限公司", risk="低")
    county = make_user("county_admin", "411002")
    data = csv_bytes([row(1), row(2, 统一社会信用代码=other.uscc, 生产许可证编号=other.licence_no, 企业名称="魏都区的新名字",
                                      风险等级="高", 所属单位="411002")])
    with pytest.raises(ImportRejected) as info:
        apply("enterprises", data, "e.csv", county)
    db.session.rollback()
    found = problems(info.value.preview)
    assert any(r == 3 and c == "统一社会信用代码" and "禹州市" in m and "不能导入或修改" in m for r, c, m in found), found
    db.session.expire_all()
    again = db.session.get(Enterprise, other.id)
    assert (again.unit.code, again.name, again.risk) == ("411081", "禹州市钧瓷电缆有限公司", "低")
    assert count(Enterprise) == 1   # the whole file refused: row 2's new enterprise not created either


def test_county_import_cannot_move_or_deactivate_another_units_officer(app, make_user, make_officer):
    officer = make_officer(unit="411081", name="禹州检查员")
    county = make_user("county_admin", "411002")
    data = (OFFICER_HEAD + f"禹州检查员,{officer.cert_no},魏都区,2030-12-31,停用\r\n").encode()
    with pytest.raises(ImportRejected) as info:
        apply("officers", data, "o.csv", county)
    db.session.rollback()
    assert [(r, c) for r, c, _m in problems(info.value.preview)] == [(2, "执法证号")]
    db.session.expire_all()
    again = db.session.get(Officer, officer.id)
    assert (again.unit.code, again.status) == ("411081", "在岗")


def test_county_equipment_import_of_another_units_enterprise_refused(app, make_user, make_enterprise):
    other = make_enterprise(unit="411081")
    county = make_user("county_admin", "411002")
    data = f"统一社会信用代码,设备名称,规格型号,数量\r\n{other.uscc},反应釜,5000L,3\r\n".encode()
    preview = analyse("equipment", data, "q.csv", county)
    assert [(p.row, p.column) for p in preview.problems] == [(2, "统一社会信用代码")]


def test_county_import_through_the_web_page_refused(client, auth, make_user, make_enterprise):
    other = make_enterprise(unit="411081", risk="低")
    auth.login_as(make_user("county_admin", "411002"))
    data = csv_bytes([row(1, 统一社会信用代码=other.uscc, 生产许可证编号=other.licence_no, 风险等级="高")])
    response = client.post("/registry/import", data={"kind": "enterprises", "file": (io.BytesIO(data), "e.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "不能导入或修改" in response.get_data(as_text=True)
    assert "确认导入" not in response.get_data(as_text=True)


def test_city_admin_import_moves_a_record_with_history(app, make_user, make_enterprise):
    enterprise = make_enterprise(unit="411081")
    city = make_user("city_admin", "411000")
    data = csv_bytes([row(1, 统一社会信用代码=enterprise.uscc, 生产许可证编号=enterprise.licence_no, 所属单位="魏都区")])
    preview = apply("enterprises", data, "e.csv", city)
    db.session.commit()
    assert preview.summary()["updated"] == 1
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).unit.code == "411002"
    moves = db.session.scalars(select(ChangeRecord).where(ChangeRecord.object_id == enterprise.id,
                                                          ChangeRecord.field == "所属单位",
                                                          ChangeRecord.action != "新建")).all()
    assert [(c.old, c.new, c.action) for c in moves] == [("禹州市", "魏都区", "导入修改")]
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "enterprise.imported"))
    assert "moved" in audit.details and "禹州市" in audit.details
    assert verify_chain().ok


def test_county_form_cannot_move_own_record_away(client, auth, make_user, make_enterprise, make_officer):
    enterprise = make_enterprise(unit="411002")
    officer = make_officer(unit="411002")
    auth.login_as(make_user("county_admin", "411002"))
    data = {"name": enterprise.name, "uscc": enterprise.uscc, "address": enterprise.address,
            "production_address": "", "legal_rep": "张三", "contact": "李四", "phone": "0374-1234567",
            "licence_no": enterprise.licence_no, "issue_date": enterprise.issue_date.isoformat(),
            "expiry_date": enterprise.expiry_date.isoformat(), "category_id": "电线电缆", "product_scope": "",
            "unit_id": "411081", "risk": "中", "production_state": "正常生产", "licence_state": "有效"}
    assert client.post(f"/registry/enterprises/{enterprise.id}/edit", data=data).status_code == 422
    officer_data = {"name": officer.name, "cert_no": officer.cert_no, "unit_id": "411081", "position": "",
                    "phone": "", "cert_expiry": "2030-12-31", "status": "停用", "specialty_id": ""}
    assert client.post(f"/registry/officers/{officer.id}/edit", data=officer_data).status_code == 422
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).unit.code == "411002"
    assert (db.session.get(Officer, officer.id).unit.code, db.session.get(Officer, officer.id).status) == \
        ("411002", "在岗")


def test_county_form_cannot_edit_another_units_record(client, auth, make_user, make_enterprise, make_officer):
    enterprise = make_enterprise(unit="411081")
    officer = make_officer(unit="411081")
    auth.login_as(make_user("county_admin", "411002"))
    assert client.post(f"/registry/enterprises/{enterprise.id}/edit", data={"unit_id": "411002"}).status_code == 404
    assert client.post(f"/registry/officers/{officer.id}/edit", data={"unit_id": "411002"}).status_code == 404


def test_city_form_move_recorded_in_history(client, auth, make_user, make_officer):
    officer = make_officer(unit="411081")
    auth.login_as(make_user("city_admin", "411000"))
    data = {"name": officer.name, "cert_no": officer.cert_no, "unit_id": "411002", "position": "科员",
            "phone": "13800000000", "cert_expiry": "2030-12-31", "status": "在岗", "specialty_id": ""}
    assert client.post(f"/registry/officers/{officer.id}/edit", data=data).status_code == 302
    change = db.session.scalar(select(ChangeRecord).where(ChangeRecord.object_type == "officer",
                                                          ChangeRecord.object_id == officer.id,
                                                          ChangeRecord.field == "单位", ChangeRecord.action == "修改"))
    assert (change.old, change.new) == ("禹州市", "魏都区")


# ---------------------------------------------------- 11.2 lock and chunks

def _stage(client, auth, user, data):
    auth.login_as(user)
    response = client.post("/registry/import", data={"kind": "enterprises", "file": (io.BytesIO(data), "e.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))


def _other_write(app, enterprise_id, results):
    """Another officer's save: a POST request's write transaction (BEGIN IMMEDIATE on SQLite)."""
    with app.app_context(), app.test_request_context("/x", method="POST"):
        started = time.perf_counter()
        db.session.execute(update(Enterprise).where(Enterprise.id == enterprise_id).values(contact="并发保存"))
        db.session.commit()
        results["elapsed"] = time.perf_counter() - started


def _pause_in(monkeypatch, name, app, enterprise_id, results, on_call=1):
    """Make importing.<name> pause (on its ``on_call``-th call) until another thread has written."""
    original = getattr(importing, name)
    calls = {"n": 0}

    def paused(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == on_call:
            writer = threading.Thread(target=_other_write, args=(app, enterprise_id, results))
            writer.start()
            writer.join(timeout=8)
            results["joined"] = not writer.is_alive()
        return original(*args, **kwargs)

    monkeypatch.setattr(importing, name, paused)


def test_upload_checks_the_file_without_holding_the_write_lock(app, client, auth, make_user, make_enterprise,
                                                               monkeypatch):
    other_id = make_enterprise(unit="411081").id
    results = {}
    _pause_in(monkeypatch, "build_lookups", app, other_id, results)
    _stage(client, auth, make_user("city_admin"), csv_bytes([row(n) for n in range(1, 301)]))
    assert results.get("joined") and results["elapsed"] < 2.0, results


def test_confirmation_checks_without_the_lock_and_writes_in_chunks(app, client, auth, make_user,
                                                                   make_enterprise, monkeypatch):
    other_id = make_enterprise(unit="411081").id
    user = make_user("city_admin")
    batch_id = _stage(client, auth, user, csv_bytes([row(n) for n in range(1, 13)])).id
    monkeypatch.setattr(importing, "WRITE_CHUNK", 5)
    during_check, between_chunks = {}, {}
    _pause_in(monkeypatch, "build_lookups", app, other_id, during_check)
    _pause_in(monkeypatch, "_claim_batch", app, other_id, between_chunks, on_call=2)
    response = client.post(f"/registry/import/{batch_id}/apply")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert during_check.get("joined") and during_check["elapsed"] < 2.0, during_check
    assert between_chunks.get("joined") and between_chunks["elapsed"] < 2.0, between_chunks
    db.session.expire_all()
    assert count(Enterprise) == 13
    assert db.session.get(ImportBatch, batch_id).status == "applied"
    assert db.session.get(Enterprise, other_id).contact == "并发保存"
    assert verify_chain().ok


def test_a_failure_half_way_leaves_nothing_written(app, make_user, make_enterprise, monkeypatch):
    city = make_user("city_admin")
    apply("enterprises", csv_bytes([row(1), row(2)]), "e.csv", city)
    db.session.commit()
    before = (count(Enterprise), count(ChangeRecord))
    risk_before = db.session.scalar(select(Enterprise.risk).where(Enterprise.uscc == uscc(1)))
    monkeypatch.setattr(importing, "WRITE_CHUNK", 3)
    original = importing._write_chunk
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(importing, "_write_chunk", failing)
    rows = [row(1, 风险等级="低"), row(2, 风险等级="低")] + [row(n) for n in range(3, 12)]
    with pytest.raises(RuntimeError):
        apply("enterprises", csv_bytes(rows), "e.csv", city)
    db.session.rollback()
    assert calls["n"] == 3            # two chunks had been committed before the failure
    assert (count(Enterprise), count(ChangeRecord)) == before
    assert db.session.scalar(select(Enterprise.risk).where(Enterprise.uscc == uscc(1))) == risk_before
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "import.reverted")) is not None
    assert verify_chain().ok


def test_a_failure_in_a_later_part_reverts_only_what_was_committed(app, make_user, make_enterprise, monkeypatch):
    """A chunk written in parts fails in its second part: the revert removes the chunks that
    committed and nothing else, not a record created meanwhile under an id the rolled-back
    part had used (SQLite hands a rolled-back rowid out again)."""
    monkeypatch.setattr(importing, "WRITE_CHUNK", 4)
    monkeypatch.setattr(importing, "WRITE_PART", 2)
    monkeypatch.setattr(importing, "is_sqlite", lambda _engine: True)     # parts on PostgreSQL too
    original_write, original_revert, calls, meanwhile = importing._write_chunk, importing._revert, {"n": 0}, {}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:          # the second part of the second chunk
            raise RuntimeError("disk full")
        return original_write(*args, **kwargs)

    def revert_after_another_write(*args, **kwargs):
        meanwhile["id"] = make_enterprise(unit="411081", name="其间登记的企业").id
        return original_revert(*args, **kwargs)

    monkeypatch.setattr(importing, "_write_chunk", failing)
    monkeypatch.setattr(importing, "_revert", revert_after_another_write)
    with pytest.raises(RuntimeError):
        apply("enterprises", csv_bytes([row(n) for n in range(1, 9)]), "e.csv", make_user("city_admin"))
    db.session.rollback()
    assert calls["n"] == 4
    names = db.session.scalars(select(Enterprise.name)).all()
    assert names == ["其间登记的企业"]
    assert db.session.get(Enterprise, meanwhile["id"]) is not None
    assert verify_chain().ok


def test_the_chunks_of_a_confirmed_file_do_not_read_the_file_again(app, client, auth, make_user, monkeypatch):
    """Each chunk locks the staged batch; it reads its state, not the file (megabytes per chunk)."""
    from sqlalchemy import event

    user = make_user("city_admin")
    batch_id = _stage(client, auth, user, csv_bytes([row(n) for n in range(1, 13)])).id
    monkeypatch.setattr(importing, "WRITE_CHUNK", 3)
    monkeypatch.setattr(importing, "WRITE_PART", 3)
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = client.post(f"/registry/import/{batch_id}/apply")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 302
    beats = [i for i, s in enumerate(statements) if s.startswith("UPDATE import_batch SET status")]
    whole_rows = [i for i, s in enumerate(statements) if "import_batch.content" in s]
    assert len(beats) == 4                          # a heartbeat per chunk
    assert [i for i in whole_rows if beats[0] - 1 <= i <= beats[-1]] == []      # no file read by the chunks
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch_id).status == "applied"
    assert count(Enterprise) == 12


def test_postgresql_statistics_are_refreshed_while_a_large_import_grows_the_table(app, make_user, database_url):
    """The chunks look their records up by key; with the statistics from before the import
    PostgreSQL scanned the whole growing table for every chunk."""
    from sqlalchemy import event

    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        apply("enterprises", csv_bytes([row(n) for n in range(1, 1201)]), "e.csv", make_user("city_admin"))
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    analysed = [i for i, s in enumerate(statements) if s == "ANALYZE enterprise"]
    inserts = [i for i, s in enumerate(statements) if s.startswith("INSERT INTO enterprise")]
    if database_url.startswith("sqlite"):
        assert analysed == []
    else:   # once the import created 1,000 (before the last chunks), and at the end
        assert len(analysed) == 2 and analysed[0] < inserts[-1] < analysed[1]
    assert count(Enterprise) == 1200


def _transactions_of(monkeypatch, data, actor):
    """Apply ``data`` in parts of 10 records, chunks of at most 50; how many write
    transactions it took (each claims the batch once)."""
    monkeypatch.setattr(importing, "WRITE_PART", 10)
    monkeypatch.setattr(importing, "WRITE_CHUNK", 50)
    original, claims = importing._claim_batch, []

    def claim(*args, **kwargs):
        claims.append(kwargs.get("done", 0))
        return original(*args, **kwargs)

    monkeypatch.setattr(importing, "_claim_batch", claim)
    apply("enterprises", data, "e.csv", actor)
    db.session.commit()
    return claims


def test_sqlite_import_commits_after_a_part_when_a_save_waits(app, make_user, monkeypatch, database_url):
    """A save waiting for the write lock waits for one part of an import chunk, not the whole chunk."""
    import fcntl
    import os

    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock a save waits for exists on SQLite only")
    city = make_user("city_admin")
    assert _transactions_of(monkeypatch, csv_bytes([row(n) for n in range(1, 31)]), city) == [0]
    # What WriterQueue.acquire holds while a save waits: a shared lock on the waiting file.
    waiting = os.open(database_url[len("sqlite:///"):] + ".writelock-waiting", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(waiting, fcntl.LOCK_SH)
    try:
        claims = _transactions_of(monkeypatch, csv_bytes([row(n) for n in range(31, 61)]), city)
    finally:
        fcntl.flock(waiting, fcntl.LOCK_UN)
        os.close(waiting)
    assert claims == [0, 10, 20]
    assert count(Enterprise) == 60
    assert count(ChangeRecord) == 60 * 16
    assert verify_chain().ok


def test_bulk_rows_are_stored_as_the_orm_stores_them(app):
    """The import's history rows (a bulk insert) read back like rows the ORM wrote."""
    from datetime import datetime

    from xcapp.db_setup import bulk_insert

    at = datetime(2026, 11, 29, 16, 5, 7, 123456)
    db.session.add(ChangeRecord(object_type="enterprise", object_id=1, at=at, username="orm", action="修改",
                                field="企业名称", old="", new="甲"))
    bulk_insert(db.session, ChangeRecord.__table__, [dict(object_type="enterprise", object_id=1, at=at,
                                                          username="bulk", action="修改", field="企业名称",
                                                          old="", new="甲")])
    db.session.commit()
    raw = dict(db.session.execute(db.text("SELECT username, CAST(at AS VARCHAR) FROM change_record")).all())
    assert raw["bulk"] == raw["orm"]
    db.session.expire_all()
    assert [c.at for c in db.session.scalars(select(ChangeRecord))] == [at, at]


def test_import_audit_rows_are_chained_in_their_own_transaction_on_sqlite(app, make_user, database_url):
    """SQLite: the import's audit rows are chained before its chunk commits (no second
    write-lock hold per chunk); PostgreSQL: after commit, as every other write."""
    city = make_user("city_admin")
    app.config["AUDIT_CHAIN"] = "off"        # nothing chains after commit
    try:
        apply("enterprises", csv_bytes([row(1), row(2)]), "e.csv", city)
        db.session.commit()
        pending = sorted(db.session.scalars(select(AuditLog.action).where(AuditLog.seq.is_(None))))
    finally:
        app.config.pop("AUDIT_CHAIN")
    # import.applied is recorded by the ORM at the end, chained after commit like any other row.
    if database_url.startswith("sqlite"):
        assert pending == ["import.applied"]
    else:
        assert pending == ["enterprise.imported", "enterprise.imported", "import.applied"]
    assert verify_chain().ok


def _edit(app, enterprise_id):
    from xcapp.registry.services import save_enterprise

    with app.app_context(), app.test_request_context("/x", method="POST"):
        enterprise = db.session.get(Enterprise, enterprise_id)
        raw = {spec.key: getattr(enterprise, spec.key) for spec in importing.ENTERPRISE_FIELDS}
        raw.update(risk="中", unit_id=enterprise.unit.code, category_id=enterprise.category.name)
        save_enterprise(raw, enterprise)
        db.session.commit()


def test_a_record_changed_after_the_preview_refuses_the_whole_file(app, client, auth, make_user, make_enterprise,
                                                                   monkeypatch):
    user = make_user("city_admin")
    existing = make_enterprise(unit="411081", risk="低")
    rows = [row(n) for n in range(1, 8)] + [row(99, 统一社会信用代码=existing.uscc, 生产许可证编号=existing.licence_no,
                                                   风险等级="高")]
    batch = _stage(client, auth, user, csv_bytes(rows))
    existing_id, batch_id = existing.id, batch.id
    monkeypatch.setattr(importing, "WRITE_CHUNK", 3)
    # Between the analysis and the last chunk another admin edits the enterprise.
    original = importing._claim_batch
    calls = {"n": 0}

    def edit_then_claim(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            editor = threading.Thread(target=_edit, args=(app, existing_id))
            editor.start()
            editor.join(timeout=8)
        return original(*args, **kwargs)

    monkeypatch.setattr(importing, "_claim_batch", edit_then_claim)
    response = client.post(f"/registry/import/{batch_id}/apply")
    assert response.status_code == 422
    assert "预览后已被修改" in response.get_data(as_text=True)
    assert calls["n"] == 3            # two chunks had been written, and were reverted
    db.session.expire_all()
    assert count(Enterprise) == 1
    assert db.session.get(Enterprise, existing_id).risk == "中"
    assert db.session.get(ImportBatch, batch_id).status == "previewed"
    assert verify_chain().ok


def test_hostile_workbook_upload_refused_quickly_through_the_page(client, auth, make_user):
    """11.4 end to end: the page answers 422 with the reason, nothing is imported."""
    from tests.unit.test_hostile_xlsx import SHEET_HEAD, SHEET_TAIL, repeated, workbook

    auth.login_as(make_user("city_admin"))
    data = workbook([SHEET_HEAD, *repeated(b"<row/>", 1_900_000), SHEET_TAIL])
    started = time.perf_counter()
    response = client.post("/registry/import", data={"kind": "enterprises", "file": (io.BytesIO(data), "h.xlsx")},
                           content_type="multipart/form-data")
    assert time.perf_counter() - started < 10
    assert response.status_code == 422
    assert "含空行" in response.get_data(as_text=True)
    assert count(Enterprise) == 0
    assert db.session.scalar(select(ImportBatch.status)) == "rejected"


def test_an_imports_rows_are_checked_on_the_low_priority_thread(app, make_user, monkeypatch):
    """Checking each row (a second of CPU for 10,000 rows, at the confirmation too) runs
    where the file's parsing runs: on the low-priority thread, so the saves made
    meanwhile get the CPU first. Before, it ran on the request's own thread."""
    import os

    seen = []
    original = importing.clean_record

    def where(*args, **kwargs):
        seen.append((threading.get_ident(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        return original(*args, **kwargs)

    monkeypatch.setattr(importing, "clean_record", where)
    monkeypatch.setitem(app.config, "SLOW_WORK_NICE", 10)    # the default
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    preview = analyse("enterprises", csv_bytes([row(1), row(2)]), "e.csv", make_user("county_admin", "411002"))
    assert preview.ok, problems(preview)
    assert len(seen) == 2
    assert all(ident != threading.get_ident() and nice > mine for ident, nice in seen), seen
