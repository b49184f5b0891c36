"""Engine set-up per database.

SQLite: WAL, foreign keys, a busy timeout, and full fsync so an acknowledged
save survives a crash. Python's sqlite3 driver begins transactions lazily and
a deferred transaction that reads first and writes later fails at once with
"database is locked" when another writer committed in between (the busy
timeout does not apply then). So every transaction that may write begins with
BEGIN IMMEDIATE: it waits for the write lock up to the busy timeout instead.
Only requests with a safe method (GET/HEAD/OPTIONS) begin deferred read
transactions, and those never write (routes marked late_write_lock read first
and take the lock only for their write). Outside a request (CLI commands) every
transaction is IMMEDIATE too, except under the test configuration, where the
test's own reads must not hold the write lock against the app it is driving
(tests that simulate concurrent writers run them inside request contexts).
"""
import contextlib
import contextvars
import fcntl
import operator
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _late_lock_view() -> bool:
    from flask import current_app

    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "late_write_lock", False))


def _begin_statement(immediate_outside_requests: bool = True) -> str:
    if has_request_context():
        if request.method in SAFE_METHODS or g.get("_xcapp_read_only"):
            return "BEGIN"
        if _late_lock_view():
            # See late_write_lock(): only the transaction lock_row() opens writes.
            return "BEGIN IMMEDIATE" if g.get("_xcapp_writing") else "BEGIN"
        return "BEGIN IMMEDIATE"
    return "BEGIN IMMEDIATE" if immediate_outside_requests else "BEGIN"


_bulk = contextvars.ContextVar("xcapp_bulk_writer", default=False)


@contextlib.contextmanager
def bulk_writes():
    """Writes in this block (an import's chunks, the audit chainer) are bulk work: on
    SQLite each of their transactions lets every waiting interactive writer (a save, a
    login) go first, so a long series of chunks never starves a save."""
    token = _bulk.set(True)
    try:
        yield
    finally:
        _bulk.reset(token)


class WriterQueue:
    """Writers of one SQLite file queue on an OS file lock before BEGIN IMMEDIATE.

    SQLite's own busy handler polls with sleeps of up to 100 ms, so under load a
    waiting writer often sleeps through many free moments and the slowest saves wait
    for seconds (measured: saturation fell to 3 saves/s). A file lock hands the
    database to the next writer as soon as it is let go, across gunicorn worker
    processes and threads alike (one descriptor per connection): an interactive writer
    waits for it in a blocking ``flock`` (``_wait_blocking``), a bulk writer polls. The
    lock is let go after COMMIT has returned (``configure_sqlite``).

    The lock is not fair: a bulk writer that takes it again right after each chunk
    made saves wait up to 0.7 s behind an import. So an interactive writer that has
    to wait says so with a shared lock on a second file while it waits, and a bulk
    writer (``bulk_writes``) takes the write lock only when nobody holds that one
    (deferring at most ``BULK_DEFER_S`` per transaction, so it cannot starve either);
    an import chunk also commits early when it sees one (``writers_waiting``).
    """

    BULK_DEFER_S = 2.0

    def __init__(self, path: str, timeout_s: float):
        self.path = path
        self.timeout_s = timeout_s

    def open(self) -> tuple[int, int]:
        return (os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600),
                os.open(self.path + "-waiting", os.O_RDWR | os.O_CREAT, 0o600))

    def acquire(self, fds: tuple[int, int], bulk: bool = False) -> None:
        fd, waiting = fds
        deadline = time.monotonic() + self.timeout_s
        if bulk:
            self._defer(waiting, min(deadline, time.monotonic() + self.BULK_DEFER_S))
        if self._try(fd):
            return
        if bulk:
            self._poll(fd, deadline)
            return
        announced = self._announce(waiting)
        try:
            held = _wait_blocking(self.path, deadline - time.monotonic())
            if held is None:
                raise sqlite3.OperationalError("database is locked (writer queue timeout)") from None
            _held_elsewhere[fd] = held
        finally:
            if announced:
                fcntl.flock(waiting, fcntl.LOCK_UN)

    def _poll(self, fd: int, deadline: float) -> None:
        pause = 0.0005
        while not self._try(fd):
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError("database is locked (writer queue timeout)") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.004)

    @staticmethod
    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    @staticmethod
    def _announce(waiting: int) -> bool:
        """A shared lock on the waiting file: bulk writers hold back meanwhile."""
        try:
            fcntl.flock(waiting, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
        except BlockingIOError:   # a bulk writer is probing this very instant: wait unannounced
            return False

    @staticmethod
    def _defer(waiting: int, until: float) -> None:
        """Until no interactive writer is waiting (or ``until``)."""
        while time.monotonic() < until:
            try:
                fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            fcntl.flock(waiting, fcntl.LOCK_UN)
            return

    @staticmethod
    def release(fds: tuple[int, int]) -> None:
        held = _held_elsewhere.pop(fds[0], None)
        if held is None:
            fcntl.flock(fds[0], fcntl.LOCK_UN)
        else:
            fcntl.flock(held, fcntl.LOCK_UN)
            os.close(held)


_held_elsewhere: dict[int, int] = {}    # a connection's queue descriptor -> the one its helper locked
_waiters_lock = threading.Lock()
_waiters: dict[int, ThreadPoolExecutor] = {}     # pid -> pool: a forked worker makes its own


def _wait_blocking(path: str, timeout_s: float) -> int | None:
    """The exclusive lock on ``path``, waited for at most ``timeout_s``: the descriptor
    holding it, or None.

    The wait is a blocking ``flock`` on a helper thread, so the kernel hands the lock
    over the moment its holder lets go, with no poll interval added to the wait (a
    polling save waited up to 4 ms beyond each import chunk). ``flock`` has no
    timeout of its own: if the caller gives up first, the helper lets the lock go as
    soon as it gets it. The helper waits on a descriptor of its own (flock locks
    belong to the open file), so a late grant never touches a later acquisition.
    """
    got, lock = threading.Event(), threading.Lock()
    state: dict = {"abandoned": False, "fd": None}

    def wait() -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        with lock:
            if state["abandoned"]:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                return
            state["fd"] = fd
        got.set()

    pid = os.getpid()
    with _waiters_lock:
        pool = _waiters.get(pid)
        if pool is None:
            pool = _waiters[pid] = ThreadPoolExecutor(max_workers=16, thread_name_prefix="xcapp-writer-wait")
    pool.submit(wait)
    got.wait(max(timeout_s, 0))
    with lock:
        state["abandoned"] = state["fd"] is None
        return state["fd"]


def configure_sqlite(engine: Engine, busy_timeout_ms: int, immediate_outside_requests: bool = True) -> None:
    database = engine.url.database
    queue = WriterQueue(database + ".writelock", busy_timeout_ms / 1000) if database and database != ":memory:" \
        else None

    def _release(info) -> None:
        if info.get("xcapp_locked"):
            info["xcapp_locked"] = False
            WriterQueue.release(info["xcapp_fd"])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        if queue is not None:
            record.info["xcapp_fd"] = queue.open()
        # Take transaction control away from the driver (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        statement = _begin_statement(immediate_outside_requests)
        info = conn.connection.info
        if queue is not None and statement == "BEGIN IMMEDIATE" and not info.get("xcapp_locked"):
            queue.acquire(info["xcapp_fd"], bulk=_bulk.get())
            info["xcapp_locked"] = True
        try:
            conn.exec_driver_sql(statement)
        except Exception:
            _release(info)
            raise

    @event.listens_for(engine, "commit")
    def _on_commit(_conn):
        if has_request_context() and _late_lock_view():
            g._xcapp_writing = False   # what follows renders the response: read only

    # The queue is let go once COMMIT (or ROLLBACK) has returned, not in the engine's
    # commit event, which runs before it: the next writer's BEGIN IMMEDIATE then never
    # finds the database still committing (its fsync), which SQLite answers with the
    # busy handler's sleeps of 1, 2, 5 ms and more (measured: a save's own write took
    # twice as long during an import).
    plain_commit, plain_rollback = engine.dialect.do_commit, engine.dialect.do_rollback

    def _info(dbapi_connection) -> dict:
        try:   # the pool's proxy of a connection; the first connect's rollback has none
            return dbapi_connection.info
        except (AttributeError, NotImplementedError):
            return {}

    def do_commit(dbapi_connection):
        try:
            plain_commit(dbapi_connection)
        finally:
            _release(_info(dbapi_connection))

    def do_rollback(dbapi_connection):
        try:
            plain_rollback(dbapi_connection)
        finally:
            _release(_info(dbapi_connection))

    engine.dialect.do_commit, engine.dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection, record):
        _release(record.info)   # never keep the queue while idle in the pool

    @event.listens_for(engine.pool, "close")
    def _on_close(_dbapi_connection, record):
        _release(record.info)
        fds = record.info.pop("xcapp_fd", None)
        for fd in fds or ():
            os.close(fd)


def writers_waiting(session) -> bool:
    """SQLite: an interactive writer (a save, a login) is waiting for the write lock
    this session's transaction holds, so bulk work should commit soon. Elsewhere
    False: PostgreSQL writers wait only for the rows they share."""
    connection = session.connection()
    fds = connection.connection.info.get("xcapp_fd")
    if connection.dialect.name != "sqlite" or not fds:
        return False
    try:
        fcntl.flock(fds[1], fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fds[1], fcntl.LOCK_UN)
    return False


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def bulk_insert(session, table, rows: list[dict]) -> None:
    """Insert many rows inside the session's transaction.

    Every row has the columns of the first; a column left out gets the database's
    default, as with COPY (Python-side defaults are not applied).

    PostgreSQL: COPY on the session's own connection (an executemany of
    170,000 small rows costs seconds in per-row protocol work); SQLite: the
    driver's executemany. Not SQLAlchemy's: its per-row parameter processing cost
    twice the insert itself, and an import's chunk holds the write lock meanwhile.
    """
    if not rows:
        return
    connection = session.connection()
    columns = list(rows[0])
    raw = connection.connection.driver_connection
    if connection.dialect.name != "postgresql":
        _sqlite_executemany(raw, connection.dialect, table, columns, rows)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def _sqlite_executemany(raw, dialect, table, columns: list[str], rows: list[dict]) -> None:
    """Each value through its column type's bind processor (a datetime becomes
    SQLAlchemy's text form, as every other write stores it); a value that repeats
    over the rows (a chunk's time, user, action) is processed once."""
    converted = []
    for index, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converted.append((index, _once_per_value(process)))
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    values = list(map(operator.itemgetter(*columns), rows)) if len(columns) > 1 else [(row[columns[0]],)
                                                                                        for row in rows]
    if converted:
        values = [list(v) for v in values]
        for index, convert in converted:
            for value in values:
                value[index] = convert(value[index])
    cursor = raw.cursor()
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)
    finally:
        cursor.close()


def _once_per_value(process):
    seen: dict = {}

    def convert(value):
        try:
            return seen[value]
        except KeyError:
            done = seen[value] = process(value)
            return done
        except TypeError:   # unhashable
            return process(value)
    return convert


def insert_new(connection, table, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either database: True when the row was
    inserted, False when a row with the same key was there already."""
    key = (connection.dialect.name, table.name)
    stmt = _INSERT_NEW.get(key)
    if stmt is None:   # built once per table: building costs more than running it
        # The inserted row's key comes back; rowcount is not told by every driver (psycopg: -1).
        stmt = _INSERT_NEW[key] = (dialect_insert(connection.dialect.name)(table).on_conflict_do_nothing()
                                   .returning(*table.primary_key.columns))
    return connection.execute(stmt, values).first() is not None


_INSERT_NEW: dict = {}


def dialect_insert(dialect_name: str):
    """The dialect's own ``insert`` (it has ``on_conflict_do_nothing``): PostgreSQL's or SQLite's."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def late_write_lock(view):
    """For hot write routes on SQLite: read (user, scope checks) without the write lock,
    and take it only when the service locks its row, so writers hold the database lock
    for the write itself, not for the whole request."""
    from functools import wraps

    @wraps(view)
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)

    wrapper.late_write_lock = True   # read by the begin hook, also for the user loader
    return wrapper


def begin_write(session) -> None:
    """From here on this request writes. Under ``late_write_lock`` on SQLite the read
    transaction so far is ended (it must not have written) and the next one begins
    IMMEDIATE, waiting for the write lock; elsewhere nothing changes. For writes that
    lock no single row (e.g. the login's failure record) after slow work done unlocked."""
    if (has_request_context() and _late_lock_view() and not g.get("_xcapp_writing")
            and session.get_bind().dialect.name == "sqlite"):
        session.commit()
        g._xcapp_writing = True


def read_only_from_now() -> None:
    """The rest of this request only reads (an error page after a failed write)."""
    if has_request_context():
        g._xcapp_read_only = True


def after_refused_write() -> None:
    """A refused write was rolled back. Under ``late_write_lock`` the rest of the request
    only reads, as after its commit (``_on_commit``), so what shows the refusal never
    waits for the write lock; elsewhere nothing changes."""
    if has_request_context() and _late_lock_view():
        read_only_from_now()


def lock_row(session, model, ident):
    """Load one row and lock it for the rest of the transaction (FOR UPDATE OF its own
    table, so eagerly joined relationships don't widen the lock; SQLite ignores it, its
    writing transactions hold the database lock already). None when there is no such row.

    Under ``late_write_lock`` on SQLite the read transaction so far is ended here and
    the next one begins IMMEDIATE (waiting for the write lock): ``begin_write``."""
    from sqlalchemy import select

    begin_write(session)
    pk = model.__mapper__.primary_key[0]
    stmt = (select(model).where(pk == ident).with_for_update(of=model.__table__)
            .execution_options(populate_existing=True))
    return session.execute(stmt).unique().scalar_one_or_none()


def configure_postgresql(engine: Engine, lock_timeout_ms: int) -> None:
    """A write that waits for another transaction's row lock gives up after the same
    time SQLite would (the app answers 503 "please retry"), instead of hanging."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        dbapi_connection.commit()
