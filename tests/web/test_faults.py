"""SQLite busy: a long write transaction held by another process makes a save wait and
succeed, or fail with a clear, retryable message - never a 500 with a stack trace."""
import sqlite3
import threading
import time

import pytest
from sqlalchemy import select

from xcapp.extensions import db
from xcapp.inspections.models import Answer

HX = {"HX-Request": "true"}


@pytest.fixture
def busy_app(_app, started, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite locking only")   # PostgreSQL has row locks, covered by the concurrency tests
    from tests.conftest import _isolated_client_class
    from xcapp import create_app
    from xcapp.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, SQLITE_BUSY_TIMEOUT_MS=1000)
    app.test_client_class = _isolated_client_class()
    yield app, started, database_url.replace("sqlite:///", "")
    with app.app_context():
        db.engine.dispose()


def _hold_write_lock(path, seconds, ready):
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("BEGIN IMMEDIATE")
    ready.set()
    time.sleep(seconds)
    conn.execute("ROLLBACK")
    conn.close()


def _client(app, user):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
    return client


def test_save_waits_for_a_short_lock_and_succeeds(busy_app):
    app, (_task, _officers, users, inspection), path = busy_app
    client, url = _client(app, users[0]), f"/inspections/{inspection.id}/items/1"
    db.session.commit()
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.5, ready))
    holder.start()
    ready.wait()
    start = time.perf_counter()
    response = client.post(url, data={"record_present": "1", "record": "valid"}, headers=HX)
    waited = time.perf_counter() - start
    holder.join()
    assert response.status_code == 200 and waited >= 0.3
    assert db.session.scalar(select(Answer).where(Answer.item_no == 1)).record == "valid"


def test_save_during_a_long_lock_gets_a_clear_retryable_answer(busy_app):
    app, (_task, _officers, users, inspection), path = busy_app
    client, url = _client(app, users[0]), f"/inspections/{inspection.id}/items/2"
    db.session.commit()
    ready = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 2.5, ready))
    holder.start()
    ready.wait()
    response = client.post(url, data={"record_present": "1", "record": "unchanged", "save_key": "retry-1"},
                           headers=HX)
    holder.join()
    body = response.get_data(as_text=True)
    assert response.status_code == 503 and "数据库正忙，请稍后重试" in body and "Traceback" not in body
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 2)) is None
    # The phone retries with the same key once the lock is gone: saved once.
    again = client.post(url, data={"record_present": "1", "record": "unchanged", "save_key": "retry-1"}, headers=HX)
    assert again.status_code == 200
    db.session.rollback()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 2)).version == 1
