"""``db_batch``: statements sent together (one round trip on PostgreSQL) must behave as
SQLAlchemy's own execution does: the same stored values and the same values read back,
SQLAlchemy's cursor events see every statement, a driver error comes out as
SQLAlchemy's, and an INSERT never silently drops a Python-side default."""
import threading
from datetime import datetime

import pytest
from sqlalchemy import bindparam, event, select, text
from sqlalchemy.exc import IntegrityError

from xcapp.audit.models import AuditLog
from xcapp.db_batch import Batch, Statement
from xcapp.extensions import db
from xcapp.inspections.models import Answer

from .test_faults import _locked

LOG = AuditLog.__table__
HX = {"HX-Request": "true"}


def _row(**overrides):
    row = dict(at=datetime(2026, 11, 29, 8, 30, 1, 123456), user_id=None, username="u", unit_code="411002",
               action="test.batch", object_type="t", object_id="1", details="{}")
    row.update(overrides)
    return row


def test_a_batch_stores_and_reads_back_what_sqlalchemy_does(app):
    insert = Statement(LOG.insert().returning(LOG.c.id, LOG.c.at))
    read = Statement(select(LOG.c.id, LOG.c.at, LOG.c.action).where(LOG.c.action == bindparam("action"))
                     .order_by(LOG.c.id))
    batch = Batch()
    first = batch.add(insert, _row())
    second = batch.add(insert, _row(at=datetime(2026, 1, 2, 3, 4, 5)))
    both = batch.add(read, {"action": "test.batch"})   # runs after the inserts, in the same transaction
    batch.run(db.session.connection())
    assert [r.id for r in both.rows] == [first.first().id, second.first().id]
    assert [r.at for r in both.rows] == [datetime(2026, 11, 29, 8, 30, 1, 123456), datetime(2026, 1, 2, 3, 4, 5)]
    assert first.first().at == datetime(2026, 11, 29, 8, 30, 1, 123456)
    # ... stored exactly as the ORM stores the same value (SQLite: the same text).
    db.session.add(AuditLog(**_row(action="test.orm")))
    db.session.flush()
    stored = db.session.execute(text("SELECT action, CAST(at AS TEXT) FROM audit_log ORDER BY id")).all()
    assert stored[0][1] == stored[2][1]


def test_sqlalchemy_cursor_events_see_every_batched_statement(app):
    seen_before, seen_after = [], []
    engine, connection = db.engine, db.session.connection()   # begun (SQLite: its BEGIN) before listening
    listeners = [("before_cursor_execute", lambda *a: seen_before.append(a[2])),
                 ("after_cursor_execute", lambda *a: seen_after.append(a[2]))]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        batch = Batch()
        batch.add(Statement(LOG.insert()), _row())
        batch.add(Statement(select(LOG.c.id)), {})
        batch.run(connection)
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
    assert [s.split()[0] for s in seen_before] == ["INSERT", "SELECT"]
    assert seen_after == seen_before


def test_a_driver_error_comes_out_as_sqlalchemys_and_the_session_goes_on(app):
    insert = Statement(LOG.insert().returning(LOG.c.id))
    batch = Batch()
    taken = batch.add(insert, _row())
    batch.run(db.session.connection())
    again = Batch()
    again.add(insert, _row(id=taken.first().id))      # the same primary key
    with pytest.raises(IntegrityError):
        again.run(db.session.connection())
    db.session.rollback()
    assert db.session.scalar(select(AuditLog.id).where(AuditLog.action == "test.batch")) is None


def test_an_insert_that_leaves_out_a_python_default_is_refused(app):
    row = _row()
    del row["details"]        # default "{}" on the model: SQLAlchemy would have filled it in
    batch = Batch()
    batch.add(Statement(LOG.insert()), row)
    with pytest.raises(ValueError, match="details"):
        batch.run(db.session.connection())


def test_a_save_reads_the_record_as_it_is_once_its_lock_is_granted(app, started, database_url):
    """The save's reads go out with its locking statement (one batch), yet run after the
    lock is granted: another transaction holding the lock and changing the answer makes
    the save see the change (here: a newer version by another officer, a conflict), not
    the answer as it was when the save was sent."""
    _task, _officers, users, inspection = started
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = users[0].get_id()
    path = f"/inspections/{inspection.id}/items/1"
    assert client.post(path, data={"record_present": "1", "record": "valid"}, headers=HX).status_code == 200
    db.session.rollback()
    answer_id = db.session.scalar(select(Answer.id).where(Answer.inspection_id == inspection.id,
                                                           Answer.item_no == 1))
    inspection_id = inspection.id
    db.session.commit()
    holder = _locked(database_url, inspection_id, 0.5,
                     change=("UPDATE answer SET record = 'expired', version = 7, updated_by = 'other', "
                             "updated_by_name = '另一检查员' WHERE id = :id", {"id": answer_id}))
    response = client.post(path, data={"record_present": "1", "record": "valid", "base_version": "1"}, headers=HX)
    holder.join()
    assert response.status_code == 409, response.get_data(as_text=True)[:300]
    assert "另一检查员 刚刚修改了此项" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(Answer.record).where(Answer.id == answer_id)) == "expired"


def test_postgresql_sends_a_saves_reads_and_its_writes_each_in_one_round_trip(app, started, database_url,
                                                                              monkeypatch):
    """On PostgreSQL an item save's statements go to the server in pipeline mode: the lock,
    the reads and the receipt together, then the writes together. Before, each of its
    eight statements was a round trip of its own."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pipeline mode")
    import psycopg

    _task, _officers, users, inspection = started
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = users[0].get_id()
    path = f"/inspections/{inspection.id}/items/1"
    assert client.post(path, data={"record_present": "1", "record": "valid", "save_key": "k1"},
                       headers=HX).status_code == 200
    pipelines, statements, thread = [], [], threading.get_ident()
    original = psycopg.Connection.pipeline

    def counted(self):
        if threading.get_ident() == thread:
            pipelines.append(len(statements))
        return original(self)

    def before(_conn, cursor, statement, *_args):
        if threading.get_ident() == thread:
            mode = cursor.connection.pgconn.pipeline_status
            statements.append((statement.split()[0], mode != psycopg.pq.PipelineStatus.OFF))

    monkeypatch.setattr(psycopg.Connection, "pipeline", counted)
    monkeypatch.setitem(app.config, "AUDIT_CHAIN", "background")   # as on the server: chained off the request
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        response = client.post(path, data={"record_present": "1", "record": "expired", "save_key": "k2"}, headers=HX)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        from xcapp.audit.services import _chainer

        _chainer.wait_idle()      # the next test clears the tables
    assert response.status_code == 200
    alone = [name for name, piped in statements if not piped]
    assert alone == ["SELECT"], "\n".join(map(str, statements))   # the user loader's
    assert len(pipelines) == 2, (pipelines, statements)
    reads, writes = statements[pipelines[0]:pipelines[1]], statements[pipelines[1]:]
    assert [name for name, _ in reads] == ["SELECT"] * 4 + ["INSERT"]     # lock, task, answers, item-12 rows, receipt
    assert [name for name, _ in writes] == ["UPDATE", "INSERT"]             # the answer, its audit row
