"""Backup, then restore into an empty database: every record is there and the audit chain verifies."""
import uuid

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url


def _counts(engine):
    with engine.connect() as conn:
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                for t in ("enterprise", "officer", "task", "inspection", "answer", "blob", "audit_log", "signature")}


def test_backup_and_restore_into_empty_database(app, runner, tmp_path, pg_admin_url):
    from flask_migrate import upgrade

    from xcapp import create_app
    from xcapp.config import TestConfig
    from xcapp.extensions import db

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    db.session.commit()
    before = _counts(db.engine)
    assert before["inspection"] and before["blob"] and before["signature"]
    dump = tmp_path / "backup.bin"
    result = runner.invoke(args=["backup", str(dump)])
    assert result.exit_code == 0, result.output
    # A fresh, empty database of the same kind.
    if pg_admin_url is None:
        target_url = "sqlite:///" + str(tmp_path / "restored.db")
        cleanup = None
    else:
        name = f"xcapp_restore_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        target_url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)

        def cleanup():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    try:
        target = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=target_url)
        with target.app_context():
            upgrade()        # a migrated but empty database is fine; one with data is refused
            result = target.test_cli_runner().invoke(args=["restore", str(dump)])
            assert result.exit_code == 0, result.output
            assert "校验通过" in result.output
            assert _counts(db.engine) == before
            again = target.test_cli_runner().invoke(args=["restore", str(dump)])
            assert again.exit_code != 0 and "已有数据" in again.output
            db.session.remove()
            db.engine.dispose()
    finally:
        if cleanup:
            cleanup()
