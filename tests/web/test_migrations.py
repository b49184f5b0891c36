"""`flask db upgrade` from an empty database gives exactly the models' schema."""
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url


@pytest.fixture
def empty_db_url(tmp_path, pg_admin_url):
    if pg_admin_url is None:
        yield "sqlite:///" + str(tmp_path / "migrate.db")
        return
    base = make_url(pg_admin_url)
    name = f"xcapp_migr_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_models(empty_db_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    from xcapp import create_app
    from xcapp.config import TestConfig
    from xcapp.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=empty_db_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        names = set(inspect(db.engine).get_table_names())
        assert {"unit", "user_account", "audit_log", "audit_head", "alembic_version"} <= names
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # A second upgrade is a no-op, and the whole chain downgrades cleanly.
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.session.remove()
        db.engine.dispose()
