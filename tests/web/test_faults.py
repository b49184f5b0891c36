"""A write blocked by another process: a long write transaction (SQLite) or a row lock
(PostgreSQL) held elsewhere makes a save wait and succeed, or fail with a clear,
retryable message - never a 500 with a stack trace."""
import threading
import time

import pytest
from sqlalchemy import create_engine, select, text

from xcapp.extensions import db
from xcapp.inspections.models import Answer

HX = {"HX-Request": "true"}


@pytest.fixture
def busy_app(_app, started, database_url):
    from tests.conftest import _isolated_client_class
    from xcapp import create_app
    from xcapp.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, SQLITE_BUSY_TIMEOUT_MS=1000)
    app.test_client_class = _isolated_client_class()
    yield app, started, database_url
    with app.app_context():
        db.engine.dispose()


def _hold_lock(url, inspection_id, seconds, ready, change=None):
    """Another process's transaction: SQLite's write lock, or the record's row lock. With
    ``change`` ((SQL, parameters)), it writes that under the lock and commits at the end;
    otherwise it rolls back."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
            conn.execute(text("SELECT id FROM inspection WHERE id = :id FOR UPDATE"), {"id": inspection_id})
        if change is not None:
            conn.execute(text(change[0]), change[1])
        ready.set()
        time.sleep(seconds)
        conn.exec_driver_sql("COMMIT" if change is not None else "ROLLBACK")
    engine.dispose()


def _client(app, user):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
    return client


def _locked(url, inspection_id, seconds, change=None):
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(url, inspection_id, seconds, ready, change))
    holder.start()
    ready.wait()
    return holder


def test_save_waits_for_a_short_lock_and_succeeds(busy_app):
    app, (_task, _officers, users, inspection), url = busy_app
    client, path = _client(app, users[0]), f"/inspections/{inspection.id}/items/1"
    inspection_id = inspection.id
    db.session.commit()
    holder = _locked(url, inspection_id, 0.5)
    start = time.perf_counter()
    response = client.post(path, data={"record_present": "1", "record": "valid"}, headers=HX)
    waited = time.perf_counter() - start
    holder.join()
    assert response.status_code == 200 and waited >= 0.3
    assert db.session.scalar(select(Answer).where(Answer.item_no == 1)).record == "valid"


def test_save_during_a_long_lock_gets_a_clear_retryable_answer(busy_app):
    app, (_task, _officers, users, inspection), url = busy_app
    client, path = _client(app, users[0]), f"/inspections/{inspection.id}/items/2"
    inspection_id = inspection.id
    db.session.commit()
    holder = _locked(url, inspection_id, 2.5)
    response = client.post(path, data={"record_present": "1", "record": "unchanged", "save_key": "retry-1"},
                           headers=HX)
    holder.join()
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and "数据库正忙，请稍后重试" in body and "Traceback" not in body
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 2)) is None
    # The phone retries with the same key once the lock is gone: saved once.
    again = client.post(path, data={"record_present": "1", "record": "unchanged", "save_key": "retry-1"}, headers=HX)
    assert again.status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 2)).version == 1


@pytest.fixture
def queue_app(_app, started, database_url):
    """The app with a tiny writer-queue timeout (SQLite only: PostgreSQL has no writer queue)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the writer queue exists on SQLite only")
    from tests.conftest import _isolated_client_class
    from xcapp import create_app
    from xcapp.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, SQLITE_BUSY_TIMEOUT_MS=150)
    app.test_client_class = _isolated_client_class()
    yield app, started, database_url
    with app.app_context():
        db.engine.dispose()


def _hold_writer_queue(url):
    """Another process holding the writer queue's file lock (xcapp.db_setup.WriterQueue)."""
    import fcntl
    import os

    fd = os.open(url[len("sqlite:///"):] + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("htmx", [True, False])
def test_writer_queue_timeout_answers_503_please_retry(queue_app, htmx):
    import fcntl
    import os

    app, (_task, _officers, users, inspection), url = queue_app
    client, path = _client(app, users[0]), f"/inspections/{inspection.id}/items/1"
    db.session.commit()
    fd = _hold_writer_queue(url)
    try:
        response = client.post(path, data={"record_present": "1", "record": "valid", "save_key": "q-1"},
                               headers=HX if htmx else {})
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:300]
    assert "请稍后重试" in body and "Traceback" not in body
    assert response.headers["Retry-After"]
    assert ("<html" not in body) if htmx else ("<html" in body)
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 1)) is None
    # Once the queue is free the retry with the same key is stored once.
    again = client.post(path, data={"record_present": "1", "record": "valid", "save_key": "q-1"}, headers=HX)
    assert again.status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 1)).version == 1


def test_login_during_writer_queue_timeout_answers_503(queue_app):
    import fcntl
    import os

    from tests.conftest import PASSWORD

    app, (_task, _officers, users, _inspection), url = queue_app
    username = users[0].username
    db.session.commit()
    client = app.test_client()
    fd = _hold_writer_queue(url)
    try:
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert response.status_code == 503 and "请稍后重试" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302       # not logged in: nothing was recorded
    assert client.post("/auth/login", data={"username": username, "password": PASSWORD}).status_code == 302


def test_the_writer_queue_is_let_go_only_after_commit_has_returned(app, database_url):
    """The engine's commit event runs before COMMIT: a queue let go there let the next
    writer's BEGIN IMMEDIATE find the database still committing, and SQLite made it
    sleep in its busy handler (1, 2, 5 ms ...) instead of queueing."""
    import fcntl
    import os

    from sqlalchemy import event

    if not database_url.startswith("sqlite"):
        pytest.skip("the writer queue exists on SQLite only")
    path = database_url[len("sqlite:///"):] + ".writelock"
    probe = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def queue_free() -> bool:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(probe, fcntl.LOCK_UN)
        return True

    seen = []
    listener = lambda _conn: seen.append(queue_free())    # noqa: E731 - runs just before COMMIT
    event.listen(db.engine, "commit", listener)
    try:
        with app.test_request_context("/x", method="POST"):   # a writing request: BEGIN IMMEDIATE
            db.session.execute(text("UPDATE unit SET name = name"))
            assert not queue_free()
            db.session.commit()
            assert queue_free()
    finally:
        event.remove(db.engine, "commit", listener)
        os.close(probe)
    assert seen == [False]          # still held while COMMIT runs
