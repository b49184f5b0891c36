"""Engine set-up per database.

SQLite: WAL, foreign keys, a busy timeout, and full fsync so an acknowledged
save survives a crash. Python's sqlite3 driver begins transactions lazily and
a deferred transaction that reads first and writes later fails at once with
"database is locked" when another writer committed in between (the busy
timeout does not apply then). So every transaction that may write begins with
BEGIN IMMEDIATE: it waits for the write lock up to the busy timeout instead.
Only requests with a safe method (GET/HEAD/OPTIONS) begin deferred read
transactions, and those never write. Outside a request (CLI commands) every
transaction is IMMEDIATE too, except under the test configuration, where the
test's own reads must not hold the write lock against the app it is driving
(tests that simulate concurrent writers run them inside request contexts).
"""
from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _begin_statement(immediate_outside_requests: bool = True) -> str:
    if has_request_context():
        # After a request's write has committed, what follows only renders the
        # response: read without holding the write lock.
        if request.method in SAFE_METHODS or g.get("_xcapp_committed"):
            return "BEGIN"
        if g.get("_xcapp_late_lock") and not g.get("_xcapp_writing"):
            return "BEGIN"   # see late_write_lock(): lock_row() takes the lock
        return "BEGIN IMMEDIATE"
    return "BEGIN IMMEDIATE" if immediate_outside_requests else "BEGIN"


def configure_sqlite(engine: Engine, busy_timeout_ms: int, immediate_outside_requests: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
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
        conn.exec_driver_sql(_begin_statement(immediate_outside_requests))

    @event.listens_for(engine, "commit")
    def _on_commit(conn):
        if has_request_context():
            g._xcapp_committed = True


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def bulk_insert(session, table, rows: list[dict]) -> None:
    """Insert many rows inside the session's transaction.

    PostgreSQL: COPY on the session's own connection (an executemany of
    170,000 small rows costs seconds in per-row protocol work); SQLite:
    executemany, which is fast there.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    raw = connection.connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def late_write_lock(view):
    """For hot write routes on SQLite: read (user, scope checks) without the write lock,
    and take it only when the service locks its row, so writers hold the database lock
    for the write itself, not for the whole request."""
    from functools import wraps

    @wraps(view)
    def wrapper(*args, **kwargs):
        g._xcapp_late_lock = True
        return view(*args, **kwargs)

    return wrapper


def lock_row(session, model, ident):
    """Load one row and lock it for the rest of the transaction (FOR UPDATE OF its own
    table, so eagerly joined relationships don't widen the lock; SQLite ignores it, its
    writing transactions hold the database lock already). None when there is no such row.

    Under ``late_write_lock`` on SQLite the read transaction so far is ended here and
    the next one begins IMMEDIATE (waiting for the write lock)."""
    from sqlalchemy import select

    if (has_request_context() and g.get("_xcapp_late_lock") and not g.get("_xcapp_writing")
            and session.get_bind().dialect.name == "sqlite"):
        session.commit()          # nothing written yet: ends the read snapshot
        g._xcapp_committed = False
        g._xcapp_writing = True

    pk = model.__mapper__.primary_key[0]
    stmt = (select(model).where(pk == ident).with_for_update(of=model.__table__)
            .execution_options(populate_existing=True))
    return session.execute(stmt).unique().scalar_one_or_none()

