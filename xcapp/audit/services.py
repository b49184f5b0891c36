"""Writing and verifying the hash-chained audit log.

Each row's hash is SHA-256 over the row's canonical JSON followed by the previous
row's hash; ``seq`` is the row's position in the chain and ``audit_head`` holds the
chain's tip (position and hash of the last chained row).

Writing happens in two steps, so that no business transaction ever waits for another
one because both are audited:

1. ``record`` / ``record_many`` insert the row inside the caller's transaction, with
   an id from a sequence and no chain position or hash yet. The row commits or rolls
   back with the change it records, so an acknowledged change always has its row.
2. Right after commit, ``chain_pending`` gives every committed but unchained row the
   next position and its hash, in a short transaction of its own that locks
   ``audit_head`` (UPDATE ... RETURNING: the row lock on PostgreSQL; on SQLite the
   write lock) for a few statements and at most ``CHAIN_BATCH`` rows. Two chainers
   queue on the head, so the chain never forks (``seq`` is unique as well).

Under the web server the chaining step runs on a background thread per process,
woken by every commit that wrote audit rows, so a request does not pay for it and
concurrent requests share one chaining transaction. Elsewhere (CLI, tests) it runs
right after the commit. If a process dies between commit and chaining, its rows stay
committed and unchained; the next chaining step from any process, or ``verify_chain``,
chains them. ``verify_chain`` recomputes the whole chain from position 1: any edited,
inserted, re-ordered or deleted chained row, and a head that does not match the tail,
is reported; rows still waiting to be chained are counted as a pending tail.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..core.timeutil import utcnow
from ..db_batch import Batch, Statement
from ..db_setup import bulk_writes, insert_new
from ..extensions import db
from .models import AuditHead, AuditLog

GENESIS = "0" * 64
CHAIN_BATCH = 500            # rows per chaining transaction (bounds how long the head is held)
# The background chainer waits this long after a commit woke it, and chains what every
# process committed meanwhile in one step. On PostgreSQL each step costs about 1.5 ms of
# the worker's CPU and blocks no save (it locks only the head); at 0.05 s a busy server
# chained almost every save on its own, at a third of the save's own CPU (issue 11), so
# there it gathers for half a second. On SQLite a step holds the whole database's write
# lock, and saves wait behind it: short steps, soon after each commit.
BACKGROUND_GATHER_S = {"sqlite": 0.05}
DEFAULT_GATHER_S = 0.5
_WRITTEN = "xcapp_audit_engine"   # session.info key: this transaction wrote audit rows

log = logging.getLogger(__name__)
LOG = AuditLog.__table__
HEAD = AuditHead.__table__


def gather_s(engine: Engine) -> float:
    """How long the background chainer gathers commits on ``engine``'s database."""
    return BACKGROUND_GATHER_S.get(engine.dialect.name, DEFAULT_GATHER_S)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_payload(row) -> dict:
    return {
        "id": row.id,
        "at": row.at.isoformat(timespec="microseconds"),
        "user_id": row.user_id,
        "username": row.username,
        "unit_code": row.unit_code,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "details": row.details,
    }


def compute_hash(row, prev_hash: str) -> str:
    return hashlib.sha256((canonical_json(row_payload(row)) + prev_hash).encode("utf-8")).hexdigest()


def _actor(user):
    if user is None and has_request_context():
        try:
            if current_user.is_authenticated:
                user = current_user
        except Exception:  # no login manager bound (CLI)
            user = None
    if user is None:
        return None, "system", ""
    return user.id, user.username, user.unit.code if user.unit else ""


# ------------------------------------------------------------------ step 1: write

def record(action: str, obj=None, *, object_type: str = "", object_id: Any = "",
           details: dict | None = None, user=None) -> AuditLog:
    """Add one audit row to the caller's transaction (inserted with its next flush).

    The caller commits; if the transaction rolls back, the row rolls back with it.
    Nothing global is locked: the row is chained right after commit.
    """
    row = AuditLog(**_row(action, obj, object_type, object_id, details, user))
    db.session.add(row)
    db.session.info[_WRITTEN] = db.engine
    return row


def record_now(action: str, obj=None, *, object_type: str = "", object_id: Any = "",
               details: dict | None = None, user=None, batch: Batch | None = None) -> None:
    """``record``, inserted by one Core statement on the session's connection (the item
    save, which writes without the ORM's unit of work): at once, or with ``batch`` when
    the batch runs; same transaction, same row."""
    row = _row(action, obj, object_type, object_id, details, user)
    if batch is None:
        db.session.connection().execute(LOG.insert(), row)
    else:
        batch.add(_INSERT_ROW, row)
    db.session.info[_WRITTEN] = db.engine


_INSERT_ROW = Statement(LOG.insert())


def _row(action: str, obj, object_type: str, object_id: Any, details: dict | None, user) -> dict:
    if obj is not None:
        object_type = object_type or obj.__tablename__
        object_id = object_id or getattr(obj, "id", "")
    details = dict(details or {})
    if has_request_context():
        details.setdefault("ip", request.remote_addr or "")
    user_id, username, unit_code = _actor(user)
    return dict(at=utcnow(), user_id=user_id, username=username, unit_code=unit_code, action=action,
                object_type=object_type, object_id=str(object_id if object_id is not None else ""),
                details=canonical_json(details))


def record_many(entries: list[dict], user=None) -> int:
    """Append many rows at once (imports): one bulk insert, chained after commit;
    on SQLite chained at once, in the same transaction.

    SQLite's write lock is the whole database's, so chaining inside the transaction
    that holds it costs no concurrency, and saves a second lock hold and commit per
    import chunk (other officers' saves wait behind each hold). On PostgreSQL the
    head stays out of the caller's transaction (see ``record``).

    Each entry has ``action`` and optionally ``object_type``, ``object_id``, ``details``.
    """
    if not entries:
        return 0
    user_id, username, unit_code = _actor(user)
    now = utcnow()
    rows = [{"at": now, "user_id": user_id, "username": username, "unit_code": unit_code,
             "action": entry["action"], "object_type": entry.get("object_type", ""),
             "object_id": str(entry.get("object_id", "")), "details": canonical_json(entry.get("details") or {})}
            for entry in entries]
    from ..db_setup import bulk_insert

    db.session.flush()    # rows recorded before this call get the lower ids
    bulk_insert(db.session, LOG, rows)
    connection = db.session.connection()
    limit = len(rows) + CHAIN_BATCH
    if connection.dialect.name != "sqlite" or _chain_batch(connection, limit) == limit:
        db.session.info[_WRITTEN] = db.engine     # (more) left to chain after commit
    return len(rows)


# ------------------------------------------------------------------ step 2: chain

def pending_count(conn) -> int:
    return conn.execute(select(func.count()).select_from(LOG).where(LOG.c.seq.is_(None))).scalar_one()


def chain_pending(engine: Engine, limit: int = CHAIN_BATCH) -> int:
    """Chain every committed, unchained row (in order of id), in transactions of at
    most ``limit`` rows on a connection of its own. Returns how many were chained."""
    total = 0
    with bulk_writes(), engine.connect() as conn:
        if not _anything_pending(conn):    # a cheap look first: no lock when nothing is pending
            return 0
        while True:
            with conn.begin():
                done = _chain_batch(conn, limit)
            total += done
            if done < limit:
                return total


def _anything_pending(conn) -> bool:
    if conn.dialect.name == "sqlite":
        # An autocommit read on the driver's connection: a transaction of this engine
        # outside a request begins IMMEDIATE (xcapp.db_setup), taking the write lock.
        cursor = conn.connection.driver_connection.execute("SELECT 1 FROM audit_log WHERE seq IS NULL LIMIT 1")
        try:
            return cursor.fetchone() is not None
        finally:
            cursor.close()
    with conn.begin():
        return conn.execute(select(LOG.c.id).where(LOG.c.seq.is_(None)).limit(1)).first() is not None


def _lock_head(conn):
    """The head, locked for this transaction. A write first: on SQLite it takes the
    write lock before anything is read (waiting for it like BEGIN IMMEDIATE would)."""
    stmt = (update(HEAD).where(HEAD.c.id == 1).values(last_id=HEAD.c.last_id)
            .returning(HEAD.c.last_id, HEAD.c.last_hash))
    head = conn.execute(stmt).first()
    if head is None:
        if conn.execute(select(func.max(LOG.c.seq))).scalar() is not None:
            raise RuntimeError("audit_head is missing but chained rows exist: not chaining (run audit verify)")
        insert_new(conn, HEAD, dict(id=1, last_id=0, last_hash=GENESIS))
        head = conn.execute(stmt).first()
    return head


def _chain_batch(conn, limit: int) -> int:
    seq, prev = _lock_head(conn)
    rows = conn.execute(select(LOG).where(LOG.c.seq.is_(None)).order_by(LOG.c.id).limit(limit)).all()
    if not rows:
        return 0
    changes = []
    for row in rows:
        seq += 1
        digest = compute_hash(row, prev)
        changes.append({"b_id": row.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    conn.execute(update(LOG).where(LOG.c.id == bindparam("b_id"))
                 .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash")), changes)
    conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_id=seq, last_hash=prev))
    return len(rows)


class _BackgroundChainer:
    """One thread per process chains what the commits of that process wrote (and
    anything else pending), gathering the commits of a short moment into one step."""

    def __init__(self):
        self._lock = threading.Lock()
        self._engines: dict[int, Engine] = {}
        self._event = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def wake(self, engine: Engine) -> None:
        with self._lock:
            self._engines[id(engine)] = engine
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()          # a forked worker starts its own thread
                self._event = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._event,), name="audit-chainer",
                                                daemon=True)
                self._thread.start()
        self._event.set()

    def _run(self, wake: threading.Event) -> None:
        while True:
            wake.wait()
            self.busy = True
            time.sleep(min(gather_s(engine) for engine in list(self._engines.values())))
            wake.clear()
            for engine in list(self._engines.values()):
                try:
                    chain_pending(engine)
                except Exception:   # the rows stay pending; the next wake or verify chains them
                    log.exception("audit chaining failed")
                    time.sleep(1)
                    wake.set()
            self.busy = False

    busy = False

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until nothing is waiting to be chained by this process (tests)."""
        deadline = time.monotonic() + timeout
        while (self.busy or self._event.is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)


_chainer = _BackgroundChainer()


def chain_mode() -> str:
    """'background' under the web server, 'sync' (right after commit, in the committing
    thread) in CLI commands and tests; config AUDIT_CHAIN overrides ('off' leaves rows
    pending: tests of a crash between commit and chaining)."""
    if has_app_context():
        mode = current_app.config.get("AUDIT_CHAIN")
        if mode:
            return mode
        if current_app.testing:
            return "sync"
    return "background" if has_request_context() else "sync"


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    engine = session.info.pop(_WRITTEN, None)
    if engine is None:
        return
    mode = chain_mode()
    if mode == "background":
        _chainer.wake(engine)
    elif mode == "sync":
        try:
            chain_pending(engine)
        except Exception:   # the commit stands; the rows stay pending until the next chaining
            log.exception("audit chaining failed")


# ------------------------------------------------------------------ verify

@dataclass
class VerifyResult:
    count: int
    ok: bool
    bad_id: int | None = None
    message: str = ""
    pending: int = 0


def verify_chain(batch: int = 2000, chain_first: bool = True) -> VerifyResult:
    """Chain what is pending, then recompute the whole chain. Names the first position
    (``row N`` = seq N) that was edited, inserted or deleted. Rows committed after the
    chaining step are reported as ``pending`` (not verified yet), never as verified."""
    engine = db.engine
    if chain_first:
        try:
            chain_pending(engine)
        except Exception as exc:   # verification goes on; what is unchained is reported
            log.warning("audit chaining before verify failed: %s", exc)
    with engine.connect() as conn:
        result = _verify(conn, batch)
        result.pending = pending_count(conn)
    if result.ok and result.pending:
        result.message = f"{result.pending} newer rows are waiting to be chained"
    return result


def _verify(conn, batch: int) -> VerifyResult:
    prev_hash = GENESIS
    expected = 1
    count = 0
    stmt = select(LOG).where(LOG.c.seq.is_not(None)).order_by(LOG.c.seq)
    for row in conn.execution_options(yield_per=batch).execute(stmt):
        if row.seq != expected:
            return VerifyResult(count, False, expected, f"row {expected} is missing (next row is {row.seq})")
        if row.prev_hash != prev_hash:
            return VerifyResult(count, False, row.seq,
                                f"row {row.seq} (id {row.id}): prev_hash does not match the hash of row {row.seq - 1}")
        if compute_hash(row, prev_hash) != row.hash:
            return VerifyResult(count, False, row.seq, f"row {row.seq} (id {row.id}): content does not match its hash")
        prev_hash = row.hash
        expected += 1
        count += 1
    head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
    if head is not None and (head.last_id != count or head.last_hash != prev_hash):
        return VerifyResult(count, False, count + 1 if head.last_id > count else head.last_id,
                            f"the chain ends at row {count} but its head records row {head.last_id}: "
                            "rows at the end were deleted or the head was edited")
    if head is None and count:
        return VerifyResult(count, False, None, "the chain head is missing")
    return VerifyResult(count, True)
