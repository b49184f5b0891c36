import threading

from sqlalchemy import func, select, text

from xcapp.audit.models import AuditLog
from xcapp.audit.services import record, verify_chain
from xcapp.core.roles import CITY_ADMIN, COUNTY_ADMIN
from xcapp.extensions import db


def _write(n):
    for i in range(n):
        record("test.event", object_type="thing", object_id=i, details={"i": i, "名称": "许昌"})
    db.session.commit()


def test_chain_verifies_and_cli_reports_count(app, runner):
    _write(5)
    assert verify_chain().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "5 rows" in result.output


def test_edited_row_detected(app, runner):
    _write(5)
    db.session.execute(text("UPDATE audit_log SET details = :d WHERE seq = 3"), {"d": '{"i":99}'})
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 3
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code != 0 and "row 3" in cli.output


def test_rehashed_row_still_detected_by_next_row(app):
    """An attacker who edits a row and recomputes its hash breaks the next row's link."""
    from xcapp.audit.services import compute_hash

    _write(4)
    row = db.session.scalar(select(AuditLog).where(AuditLog.seq == 2))
    row.action = "forged"
    row.hash = compute_hash(row, row.prev_hash)
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 3


def test_deleted_middle_row_detected(app, runner):
    _write(5)
    db.session.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 2
    assert runner.invoke(args=["audit", "verify"]).exit_code != 0


def test_deleted_last_row_detected(app):
    _write(5)
    db.session.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 5


def test_rolled_back_transaction_leaves_chain_intact(app):
    _write(2)
    record("will.rollback", object_type="x", object_id=1)
    db.session.rollback()
    _write(1)
    result = verify_chain()
    assert result.ok and result.count == 3


def test_concurrent_writers_do_not_fork_the_chain(app):
    threads, errors = [], []

    def worker():
        # A POST request context: the app's writing transactions begin IMMEDIATE.
        with app.test_request_context(method="POST"):
            try:
                for i in range(15):
                    record("concurrent", object_type="t", object_id=i)
                    db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    for _ in range(4):
        threads.append(threading.Thread(target=worker))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 60
    hashes = db.session.scalars(select(AuditLog.prev_hash)).all()
    assert len(set(hashes)) == 60, "two rows share a predecessor: the chain forked"
    assert verify_chain().ok


def test_audit_page_for_city_admin_only(client, make_user, auth):
    admin = make_user(CITY_ADMIN, username="boss")
    _write(3)
    auth.login_as(admin)
    page = client.get("/audit/?action=test")
    assert page.status_code == 200 and "共 3 条" in page.get_data(as_text=True)
    fragment = client.get("/audit/?action=nomatch", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "共 0 条" in body
    verify = client.get("/audit/verify").get_data(as_text=True)
    assert "防篡改链完整" in verify
    county = make_user(COUNTY_ADMIN, "411002", username="county")
    auth.login_as(county)
    assert client.get("/audit/").status_code == 403


# ---------------------------------------------------------------- chaining after commit (issue 11)

def _pending():
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.seq.is_(None)))


def test_business_transaction_holds_no_global_audit_lock(app):
    """Two transactions writing audited changes: the second commits while the first is
    still open on PostgreSQL (before: it queued on audit_head until the first committed).
    On SQLite the database write lock orders them; both land and the chain verifies."""
    import time

    pg = db.engine.dialect.name == "postgresql"
    first_wrote, release, done = threading.Event(), threading.Event(), {}
    errors = []

    def first():
        with app.test_request_context(method="POST"):
            try:
                record("first.change", object_type="enterprise", object_id=1, details={"unit": "411002"})
                db.session.flush()          # the row is written, the transaction stays open
                first_wrote.set()
                release.wait(10)
                db.session.commit()
                done["first"] = time.monotonic()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
                first_wrote.set()
            finally:
                db.session.remove()

    def second():
        with app.test_request_context(method="POST"):
            try:
                record("second.change", object_type="enterprise", object_id=2, details={"unit": "411081"})
                db.session.commit()
                done["second"] = time.monotonic()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    a = threading.Thread(target=first)
    a.start()
    assert first_wrote.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(timeout=3 if pg else 0.5)
    if pg:
        assert not b.is_alive() and "second" in done, "the second writer waited for the first one's commit"
    release.set()
    a.join(timeout=20)
    b.join(timeout=20)
    assert not errors, errors
    if pg:
        assert done["second"] < done["first"]
    result = verify_chain()
    assert result.ok and result.count == 2 and result.pending == 0
    assert {r.action for r in db.session.scalars(select(AuditLog))} == {"first.change", "second.change"}


def test_crash_between_commit_and_chaining_loses_no_row(app, runner):
    """Rows commit with the change they record; if nothing chains them (the process died
    right after commit), they wait as a pending tail and the next verify chains them."""
    _write(3)
    app.config["AUDIT_CHAIN"] = "off"
    try:
        _write(4)
        db.session.expire_all()
        assert _pending() == 4
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 7
        unchained = verify_chain(chain_first=False)
        assert unchained.ok and unchained.count == 3 and unchained.pending == 4
        cli = runner.invoke(args=["audit", "verify"])
        assert cli.exit_code == 0 and "7 rows" in cli.output
    finally:
        app.config.pop("AUDIT_CHAIN")
    db.session.rollback()     # a fresh snapshot
    assert _pending() == 0
    seqs = db.session.scalars(select(AuditLog.seq).order_by(AuditLog.id)).all()
    assert seqs == list(range(1, 8))


def test_tampered_chained_row_detected_while_a_tail_is_pending(app):
    _write(4)
    app.config["AUDIT_CHAIN"] = "off"
    try:
        _write(2)
        db.session.execute(text("UPDATE audit_log SET details = :d WHERE seq = 2"), {"d": '{"i":42}'})
        db.session.commit()
        assert _pending() == 2
        result = verify_chain(chain_first=False)
        assert not result.ok and result.bad_id == 2
    finally:
        app.config.pop("AUDIT_CHAIN")
    result = verify_chain()        # chaining the tail does not paper over the edit
    assert not result.ok and result.bad_id == 2


def test_unchaining_an_edited_row_is_detected(app):
    """An attacker cannot pass an edited row off as "not chained yet": its chain position
    is missing afterwards, wherever the re-chained row ends up."""
    _write(4)
    db.session.execute(text("UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL, action = 'forged' "
                            "WHERE seq = 2"))
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 2 and "missing" in result.message
    db.session.execute(text("UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL WHERE seq = 5"))
    db.session.commit()


def test_last_row_unchained_is_detected(app):
    _write(3)
    db.session.execute(text("UPDATE audit_log SET seq = NULL, prev_hash = NULL, hash = NULL WHERE seq = 3"))
    db.session.commit()
    result = verify_chain(chain_first=False)
    assert not result.ok and result.bad_id == 3


def test_background_chainer_chains_right_after_commit(app):
    import time

    from xcapp.audit import services

    app.config["AUDIT_CHAIN"] = "background"
    try:
        _write(3)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            db.session.rollback()     # a fresh snapshot
            if not _pending():
                break
            time.sleep(0.02)
        assert _pending() == 0
    finally:
        app.config.pop("AUDIT_CHAIN")
        services._chainer.wait_idle()
    result = verify_chain(chain_first=False)
    assert result.ok and result.count == 3


def test_background_chainer_chains_the_commits_of_a_moment_in_one_step(app, monkeypatch):
    """PostgreSQL: commits a few tens of milliseconds apart (a busy server's saves) are
    chained by one step, not one step each: each step costs the worker about as much CPU
    as a third of a save (issue 11). Before, the chainer gathered for 0.05 s and took a
    step per commit. SQLite: steps soon after each commit (a step holds the database's
    write lock, and saves wait behind it)."""
    import time

    from xcapp.audit import services

    steps = []
    original = services._chain_batch

    def counted(conn, limit):
        done = original(conn, limit)
        if done:
            steps.append(done)
        return done

    monkeypatch.setattr(services, "_chain_batch", counted)
    app.config["AUDIT_CHAIN"] = "background"
    try:
        for i in range(5):
            record("test.event", object_type="thing", object_id=i)
            db.session.commit()
            time.sleep(0.04)
        services._chainer.wait_idle()
    finally:
        app.config.pop("AUDIT_CHAIN")
    db.session.rollback()
    assert _pending() == 0
    assert sum(steps) == 5
    if db.engine.dialect.name == "sqlite":
        assert services.gather_s(db.engine) <= 0.05 and len(steps) > 1
    else:
        assert services.gather_s(db.engine) >= 0.5 and steps == [5]
    assert verify_chain(chain_first=False).ok


def test_record_many_chains_in_order_in_bounded_batches(app, monkeypatch):
    from xcapp.audit import services
    from xcapp.audit.services import record_many

    monkeypatch.setattr(services, "CHAIN_BATCH", 7)
    record("before", object_type="x", object_id=0)
    record_many([{"action": "bulk", "object_type": "x", "object_id": i} for i in range(1, 31)])
    db.session.commit()
    db.session.expire_all()
    rows = db.session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
    assert [r.object_id for r in rows] == [str(i) for i in range(31)]
    assert verify_chain().ok
