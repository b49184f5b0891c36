"""An item save is the hot path of the whole app (issue 11): a real save request through
the test client, user loader included, runs at most 8 SQL statements, while keeping the
row lock, the idempotency receipt and the audit row. A regression (a lazy load, a
re-read after commit, a global lock) makes this fail and prints the statements."""
import threading

import pytest
from sqlalchemy import event, func, select

from xcapp.audit.models import AuditLog
from xcapp.extensions import db
from xcapp.inspections.models import Answer, SaveReceipt

HX = {"HX-Request": "true"}
MAX_STATEMENTS = 8
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class StatementLog:
    """SQL statements run by this thread (the request under the test client), split into
    transaction control (SQLite's BEGIN) and the rest. The background audit chainer,
    which runs on its own thread after commit, is counted separately."""

    def __init__(self, engine):
        self.engine, self.thread = engine, threading.get_ident()
        self.statements: list[str] = []
        self.control: list[str] = []

    def _before(self, _conn, _cursor, statement, _params, _context, executemany):
        if threading.get_ident() != self.thread:
            return
        head = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        (self.control if head in TRANSACTION_CONTROL else self.statements).append(
            " ".join(statement.split())[:160] + (" [executemany]" if executemany else ""))

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)

    def report(self) -> str:
        return "\n".join(self.statements) + f"\n({len(self.statements)} statements, {len(self.control)} BEGIN)"


def _post(client, inspection_id, item_no, record, key):
    return client.post(f"/inspections/{inspection_id}/items/{item_no}",
                       data={"record_present": "1", "record": record, "save_key": key}, headers=HX)


@pytest.fixture
def production_chaining(app):
    """The web server's way of chaining audit rows: on a background thread after commit."""
    from xcapp.audit.services import _chainer

    app.config["AUDIT_CHAIN"] = "background"
    yield
    app.config.pop("AUDIT_CHAIN")
    _chainer.wait_idle()      # the next test clears the tables


def test_item_save_runs_at_most_eight_statements(started, client, production_chaining):
    _task, _officers, _users, inspection = started
    inspection_id = inspection.id
    assert _post(client, inspection_id, 1, "valid", "warm-1").status_code == 200   # the task is in progress now
    with StatementLog(db.engine) as log:
        response = _post(client, inspection_id, 1, "expired", "key-2")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "已保存" in response.get_data(as_text=True)
    print(log.report())
    assert len(log.statements) <= MAX_STATEMENTS, log.report()
    assert len(log.control) <= 2, log.report()       # SQLite: the read, then the write transaction
    # ... and it is a whole save: the answer, its receipt and its audit row are stored.
    db.session.rollback()
    answer = db.session.scalar(select(Answer).where(Answer.inspection_id == inspection_id, Answer.item_no == 1))
    assert answer.record == "expired" and answer.version == 2
    assert db.session.get(SaveReceipt, "key-2") is not None
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "inspection.answer_saved")) == 2


def test_first_save_of_an_item_and_a_replay_stay_within_the_budget(started, client, production_chaining):
    _task, _officers, _users, inspection = started
    inspection_id = inspection.id
    assert _post(client, inspection_id, 1, "valid", "warm-1").status_code == 200
    with StatementLog(db.engine) as log:
        assert _post(client, inspection_id, 3, "exists", "new-item").status_code == 200
    assert len(log.statements) <= MAX_STATEMENTS, log.report()
    with StatementLog(db.engine) as replay:
        assert _post(client, inspection_id, 3, "exists", "new-item").status_code == 200
    assert len(replay.statements) <= MAX_STATEMENTS, replay.report()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "inspection.answer_saved")) == 2   # the replay wrote nothing


def test_a_save_without_the_scoped_pre_read_still_refuses_outsiders(started, client, auth, make_user):
    """The save no longer reads the record before locking it; the lock's officer check
    refuses, and the refusal answers 404 outside the user's scope as before."""
    _task, _officers, _users, inspection = started
    inspection_id = inspection.id
    strangers = [make_user("inspector", "411002", username="stranger"),
                 make_user("inspector", "411081", username="elsewhere")]
    admin = make_user("county_admin", "411002")
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    for user in strangers:
        auth.login_as(user)
        assert _post(client, inspection_id, 1, "valid", f"k-{user.username}").status_code == 404
    assert _post(client, inspection_id + 999, 1, "valid", "k-none").status_code == 404
    auth.login_as(admin)
    assert _post(client, inspection_id, 1, "valid", "k-admin").status_code == 403
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0
    assert db.session.scalar(select(func.count()).select_from(SaveReceipt)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_a_save_waiting_for_the_lock_reads_what_was_committed_meanwhile(started, app):
    """Found by the mixed-load benchmark on PostgreSQL: answers joined to the locking
    statement were read as of before the lock was granted, so the second officer's first
    save of an item the first officer had just saved inserted it again (unique violation)."""
    import time

    from xcapp.auth.models import User
    from xcapp.inspections.answers import save_answer

    _task, _officers, users, inspection = started
    inspection_id, user_ids = inspection.id, [u.id for u in users]
    first_saved, release, errors, versions = threading.Event(), threading.Event(), [], {}

    def officer(index):
        with app.test_request_context(method="POST"):
            try:
                actor = db.session.get(User, user_ids[index])
                _i, answer, _r = save_answer(inspection_id, 9, {"record": ["conform"]}, actor, key=f"race-{index}")
                version = answer.version
                if index == 0:
                    first_saved.set()
                    release.wait(10)
                db.session.commit()
                versions[index] = version
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
                first_saved.set()
            finally:
                db.session.remove()

    first = threading.Thread(target=officer, args=(0,))
    first.start()
    assert first_saved.wait(10)
    second = threading.Thread(target=officer, args=(1,))
    second.start()
    time.sleep(0.5)              # the second save now waits for the first one's lock
    release.set()
    first.join(20)
    second.join(20)
    assert not errors, errors
    assert versions == {0: 1, 1: 2}
    db.session.rollback()
    assert db.session.scalar(select(Answer.version).where(Answer.inspection_id == inspection_id,
                                                          Answer.item_no == 9)) == 2


def test_a_save_does_not_rewrite_the_session_cookie(app, client, task_setup):
    """The session cookie is written at login, not on every save (serialising,
    compressing and signing it cost about 1 ms of each save)."""
    task, officers, users = task_setup
    response = client.post("/auth/login", data={"username": users[0].username, "password": "correct-horse-battery"})
    assert response.status_code == 302 and response.headers.get("Set-Cookie", "").startswith("session=")
    client.get("/home")                      # the CSRF token joins the session once
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    from xcapp.inspections.models import Inspection

    inspection_id = db.session.scalar(select(Inspection.id).where(Inspection.task_id == task.id))
    for code in ("valid", "expired"):
        saved = client.post(f"/inspections/{inspection_id}/items/1", headers=HX,
                            data={"record_present": "1", "record": code})
        assert saved.status_code == 200
        assert "Set-Cookie" not in saved.headers


def test_a_save_leaves_no_stale_copy_in_the_callers_session(started, app):
    """The save writes by Core statements, past the ORM: a script (the demo data, a test)
    that holds the record, its answers and its task in its session reads what the save
    stored afterwards, not what it had loaded before."""
    from xcapp.auth.models import User
    from xcapp.inspections.answers import save_answer
    from xcapp.inspections.models import Inspection
    from xcapp.plans.vocab import TaskState

    _task, _officers, users, inspection = started
    with app.test_request_context(method="POST"):
        record = db.session.get(Inspection, inspection.id)
        assert record.answer(3) is None and record.task.first_answer_at is None   # loaded before the save
        save_answer(record.id, 3, {"record": ["not_exists"]}, db.session.get(User, users[0].id))
        assert record.answer(3).record == "not_exists" and record.answer(3).version == 1
        assert record.task.first_answer_at is not None and record.task.state == TaskState.IN_PROGRESS
        db.session.commit()
