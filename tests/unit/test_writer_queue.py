"""The SQLite writer queue lets a waiting interactive writer (a save) go before a bulk
writer (an import chunk, the audit chainer) that arrives later, without starving either."""
import fcntl
import threading
import time

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
