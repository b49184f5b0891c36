"""The SQLite writer queue lets a waiting interactive writer (a save) go before a bulk
writer (an import chunk, the audit chainer) that arrives later, without starving either;
a waiting writer gets the lock as soon as it is let go, and one that gave up waiting
leaves it free."""
import fcntl
import threading
import time

import pytest

from xcapp.db_setup import WriterQueue, bulk_writes, _bulk


def _acquire_in_thread(queue, fds, bulk, order, name):
    def run():
        queue.acquire(fds, bulk=bulk)
        order.append(name)
        time.sleep(0.02)              # a short write
        WriterQueue.release(fds)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_waiting_save_goes_before_a_later_bulk_writer(tmp_path):
    queue = WriterQueue(str(tmp_path / "db.writelock"), timeout_s=5)
    holder, save, bulk = queue.open(), queue.open(), queue.open()
    for _ in range(5):
        order = []
        queue.acquire(holder)
        saver = _acquire_in_thread(queue, save, False, order, "save")
        time.sleep(0.05)              # the save has waited long enough to poll slowly
        importer = _acquire_in_thread(queue, bulk, True, order, "bulk")
        time.sleep(0.02)
        WriterQueue.release(holder)
        saver.join()
        importer.join()
        assert order == ["save", "bulk"]


def test_bulk_writer_defers_only_for_a_bounded_time(tmp_path, monkeypatch):
    monkeypatch.setattr(WriterQueue, "BULK_DEFER_S", 0.2)
    queue = WriterQueue(str(tmp_path / "db.writelock"), timeout_s=5)
    stuck = queue.open()
    fcntl.flock(stuck[1], fcntl.LOCK_SH)     # a waiter that never gets anywhere
    bulk = queue.open()
    started = time.monotonic()
    queue.acquire(bulk, bulk=True)
    waited = time.monotonic() - started
    WriterQueue.release(bulk)
    assert 0.15 <= waited < 2


def test_bulk_writes_marks_only_its_block():
    assert _bulk.get() is False
    with bulk_writes():
        assert _bulk.get() is True
    assert _bulk.get() is False


def test_a_waiting_writer_gets_the_lock_when_it_is_let_go(tmp_path):
    queue = WriterQueue(str(tmp_path / "db.writelock"), timeout_s=5)
    holder, save, other = queue.open(), queue.open(), queue.open()
    queue.acquire(holder)
    order = []
    saver = _acquire_in_thread(queue, save, False, order, "save")
    time.sleep(0.05)
    assert order == []                      # waits while the lock is held
    WriterQueue.release(holder)
    saver.join(timeout=5)
    assert order == ["save"]
    queue.acquire(other)                    # the save let it go again (its helper's descriptor too)
    WriterQueue.release(other)


def test_a_writer_that_gave_up_waiting_leaves_the_lock_free(tmp_path):
    import sqlite3

    path = str(tmp_path / "db.writelock")
    holder, save = WriterQueue(path, 5).open(), WriterQueue(path, 0.1).open()
    WriterQueue(path, 5).acquire(holder)
    with pytest.raises(sqlite3.OperationalError):
        WriterQueue(path, 0.1).acquire(save)    # gives up after 0.1 s
    WriterQueue.release(holder)
    # The helper that waited for the save gets the lock late, and must let it go at once.
    later = WriterQueue(path, 2).open()
    started = time.monotonic()
    WriterQueue(path, 2).acquire(later)
    assert time.monotonic() - started < 1
    WriterQueue.release(later)
    fcntl.flock(save[0], fcntl.LOCK_EX | fcntl.LOCK_NB)   # and the save's own descriptor is not left locked
    fcntl.flock(save[0], fcntl.LOCK_UN)
