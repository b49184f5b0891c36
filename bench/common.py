"""Shared helpers: a throw-away database (SQLite file or a fresh PostgreSQL database) with the schema."""
from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
import uuid

PG_BASE = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def databases() -> list[str]:
    wanted = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    out = []
    if "sqlite" in wanted:
        out.append("sqlite")
    if "postgresql" in wanted and _pg_available():
        out.append("postgresql")
    return out


def _pg_available() -> bool:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_BASE)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def fresh_database(kind: str):
    """Yield a SQLAlchemy URL of an empty database of ``kind``; removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield "sqlite:///" + os.path.join(tmp, "bench.db")
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(PG_BASE)
    name = f"xcapp_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_app(url: str):
    """The app on ``url`` with the schema, units and categories in place."""
    os.environ.setdefault("XCAPP_INSTANCE", tempfile.mkdtemp(prefix="xcapp-bench-"))
    from xcapp import create_app
    from xcapp.config import TestConfig
    from xcapp.core.models import ensure_units
    from xcapp.extensions import db
    from xcapp.registry.services import ensure_categories

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        ensure_units()
        ensure_categories()
        db.session.commit()
    return app


def timed(fn, repeat: int = 1):
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def median(values):
    return statistics.median(values)


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class Report:
    """Collects lines, prints them, and writes them to bench/results/."""

    def __init__(self, title: str):
        self.title = title
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def write(self, name: str) -> str:
        folder = os.path.join(os.path.dirname(__file__), "results")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"# {self.title}\n# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n")
            fh.write("\n".join(self.lines) + "\n")
        return path
