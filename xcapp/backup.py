"""Backup and restore of the whole database (records, uploaded files, audit chain).

SQLite: the online backup API, consistent while the app is serving. PostgreSQL:
pg_dump in its custom format and pg_restore (the PostgreSQL client tools).
A restore goes only into an empty database, so it can never mix two states.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine


class BackupError(Exception):
    pass


def _libpq_url(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def backup(engine: Engine, path: str) -> str:
    """Write a backup of the database behind ``engine`` to ``path``; returns a description."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            raise BackupError("内存数据库无法备份")
        tmp = path + ".part"
        _sqlite_copy(database, tmp)
        os.replace(tmp, path)
        return f"SQLite online backup of {database}"
    if engine.dialect.name == "postgresql":
        result = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", path,
                                 "--dbname", _libpq_url(engine)], capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_dump 失败：{result.stderr.strip()}")
        return "pg_dump (custom format)"
    raise BackupError(f"不支持的数据库：{engine.dialect.name}")


# Tables whose rows mean the database is in use (the migrations seed only the
# product-category catalogue).
USE_TABLES = ("user_account", "enterprise", "officer", "plan", "audit_log")


def _has_data(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for name in USE_TABLES:
            if name in names and conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:
                return True
    return False


def restore(engine: Engine, path: str) -> str:
    """Restore ``path`` into the (empty) database behind ``engine``."""
    if not os.path.exists(path):
        raise BackupError(f"备份文件不存在：{path}")
    if _has_data(engine):
        raise BackupError("目标数据库已有数据：恢复只能在空数据库中进行，请先新建数据库")
    if engine.dialect.name == "sqlite":
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise BackupError("文件不是 SQLite 备份")
        engine.dispose()
        _sqlite_copy(path, engine.url.database)
        return "SQLite restored"
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:       # an upgraded-but-empty schema is dropped first
            for name in inspect(engine).get_table_names():
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
        engine.dispose()
        result = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", _libpq_url(engine), path],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore 失败：{result.stderr.strip()}")
        return "PostgreSQL restored"
    raise BackupError(f"不支持的数据库：{engine.dialect.name}")


def _sqlite_copy(source_path: str, target_path: str) -> None:
    """SQLite's online backup of one database file into another (consistent while in use)."""
    source = sqlite3.connect(source_path)
    target = sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
