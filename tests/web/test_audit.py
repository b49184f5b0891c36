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
    db.session.execute(text("UPDATE audit_log SET details = :d WHERE id = 3"), {"d": '{"i":99}'})
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 3
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code != 0 and "row 3" in cli.output


def test_rehashed_row_still_detected_by_next_row(app):
    """An attacker who edits a row and recomputes its hash breaks the next row's link."""
    from xcapp.audit.services import compute_hash

    _write(4)
    row = db.session.get(AuditLog, 2)
    row.action = "forged"
    row.hash = compute_hash(row, row.prev_hash)
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 3


def test_deleted_middle_row_detected(app, runner):
    _write(5)
    db.session.execute(text("DELETE FROM audit_log WHERE id = 2"))
    db.session.commit()
    result = verify_chain()
    assert not result.ok and result.bad_id == 2
    assert runner.invoke(args=["audit", "verify"]).exit_code != 0


def test_deleted_last_row_detected(app):
    _write(5)
    db.session.execute(text("DELETE FROM audit_log WHERE id = 5"))
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
