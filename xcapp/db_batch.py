"""Statements sent together: the item save's reads in one round trip, its writes in another (issue 11).

On PostgreSQL every statement is a round trip to the server (about 0.13 ms on loopback),
and SQLAlchemy's execution adds about 0.1 ms of Python to each; an item save ran ten
round trips. A ``Batch`` sends its statements in psycopg's pipeline mode: all at once,
the server runs them in order (each after the one before, so a read after a row lock
sees the row as of the lock), one round trip for the lot. On SQLite (in process, no
round trips) they run one after another on the driver's cursor.

Either way each statement is a SQLAlchemy Core statement compiled once per dialect and
parameter names; its parameters go through the column types' bind processors and its
rows through their result processors, as SQLAlchemy's own execution does; SQLAlchemy's
cursor events see every statement (the statement count of a save is tested with them);
and a driver error comes out as SQLAlchemy's (a lock timeout still answers 503).

Python-side column defaults are not applied: an INSERT names every such column
(checked when it is compiled), as a bulk insert does.
"""
from __future__ import annotations

from collections import namedtuple

from sqlalchemy import exc
from sqlalchemy.sql.dml import Insert


class Statement:
    """A Core statement, or a function building one for a dialect name (for a dialect's own
    constructs: ``ON CONFLICT``), compiled on first use for each dialect and set of
    parameter names."""

    def __init__(self, statement_or_builder):
        self._source = statement_or_builder
        self._compiled: dict[tuple, _Compiled] = {}

    def compiled(self, dialect, names) -> _Compiled:
        key = (dialect.name, tuple(sorted(names)))
        found = self._compiled.get(key)
        if found is None:
            source = self._source
            statement = source(dialect.name) if callable(source) else source
            found = self._compiled[key] = _Compiled(statement, dialect, key[1])
        return found


class _Compiled:
    __slots__ = ("sql", "order", "binds", "defaults", "row", "types", "dialect", "processors")

    def __init__(self, statement, dialect, names: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
            raise ValueError("a batched statement's parameters are plain names, bound at execution")
        if isinstance(statement, Insert) and getattr(statement, "select", None) is None:
            _check_defaults(statement, names)
        self.sql = compiled.string
        self.order = compiled.positiontup if compiled.positional else None
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        self.binds = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.binds[name] = process
        columns = list(statement.exported_columns)   # a SELECT's columns, or what a write RETURNs
        self.row = namedtuple("Row", [c.key for c in columns]) if columns else None
        self.types = [c.type.dialect_impl(dialect) for c in columns]
        self.dialect = dialect
        self.processors = None   # known from the first result's description (the driver's type codes)

    def parameters(self, values: dict):
        params = dict(self.defaults)
        params.update(values)
        for name, process in self.binds.items():
            params[name] = process(params[name])
        if self.order is not None:
            return tuple(params[name] for name in self.order)
        return params

    def rows(self, cursor) -> list:
        if self.row is None:
            return []
        if self.processors is None:
            self.processors = [(i, p) for i, p in ((i, t.result_processor(self.dialect, d[1]))
                                                   for i, (t, d) in enumerate(zip(self.types, cursor.description)))
                               if p is not None]
        make, processors = self.row._make, self.processors
        if not processors:
            return [make(r) for r in cursor.fetchall()]
        out = []
        for r in cursor.fetchall():
            r = list(r)
            for i, process in processors:
                r[i] = process(r[i])
            out.append(make(r))
        return out


def _check_defaults(statement: Insert, names: tuple[str, ...]) -> None:
    table = statement.table
    missing = [c.key for c in table.columns if c.default is not None and c.key not in names]
    if missing:
        raise ValueError(f"a batched INSERT INTO {table.name} must name {', '.join(missing)}")


class Pending:
    """One statement of a batch; ``rows`` once the batch has run."""

    __slots__ = ("statement", "values", "rows")

    def __init__(self, statement: Statement, values: dict):
        self.statement, self.values, self.rows = statement, values, None

    def first(self):
        return self.rows[0] if self.rows else None


class Batch:
    """Statements to send together on one connection, in order."""

    def __init__(self):
        self.pending: list[Pending] = []

    def add(self, statement: Statement, values: dict) -> Pending:
        pending = Pending(statement, values)
        self.pending.append(pending)
        return pending

    def run(self, connection) -> None:
        """Run every statement on ``connection`` (a SQLAlchemy Connection inside its
        transaction): PostgreSQL (psycopg) in one round trip, elsewhere one after another."""
        if not self.pending:
            return
        dialect = connection.dialect
        raw = connection.connection.driver_connection
        work = []
        for pending in self.pending:
            compiled = pending.statement.compiled(dialect, pending.values)
            work.append((pending, compiled, compiled.parameters(pending.values)))
        events = connection.dispatch
        cursors = []
        current = None
        try:
            if hasattr(raw, "pipeline"):     # psycopg (3)
                with raw.pipeline():
                    for current in work:
                        cursor = raw.cursor()
                        events.before_cursor_execute(connection, cursor, current[1].sql, current[2], None, False)
                        cursor.execute(current[1].sql, current[2])
                        cursors.append(cursor)
                    current = None   # the server's error comes at the pipeline's end: it names the batch
                for (pending, compiled, params), cursor in zip(work, cursors):
                    current = (pending, compiled, params)
                    pending.rows = compiled.rows(cursor)
                    events.after_cursor_execute(connection, cursor, compiled.sql, params, None, False)
            else:
                for current in work:
                    pending, compiled, params = current
                    cursor = raw.cursor()
                    cursors.append(cursor)
                    events.before_cursor_execute(connection, cursor, compiled.sql, params, None, False)
                    cursor.execute(compiled.sql, params)
                    pending.rows = compiled.rows(cursor)
                    events.after_cursor_execute(connection, cursor, compiled.sql, params, None, False)
        except dialect.loaded_dbapi.Error as err:
            _raise_wrapped(connection, err, current, cursors[-1] if cursors else None)
        finally:
            for cursor in cursors:
                cursor.close()


def _raise_wrapped(connection, err, current, cursor):
    """The driver's error as SQLAlchemy would raise it (OperationalError for a lock
    timeout, IntegrityError, ...); a lost connection is invalidated first."""
    dialect = connection.dialect
    sql, params = (current[1].sql, current[2]) if current else ("(batch)", None)
    lost = dialect.is_disconnect(err, connection.connection.driver_connection, cursor)
    if lost:
        connection.invalidate(err)
    raise exc.DBAPIError.instance(sql, params, err, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                  dialect=dialect) from err
