"""Shared fixtures.

The database is the one in DATABASE_URL when that points at PostgreSQL (a fresh
database is created for the run and dropped afterwards, so runs never see each
other's data), otherwise a SQLite file in a temporary folder. The schema is
created once per run from the models; every test starts from empty tables with
the units loaded.
"""
from __future__ import annotations

import os
import uuid

import pytest

PG_PREFIXES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def _pg_admin_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(PG_PREFIXES):
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(_pg_admin_url(url))
    name = f"xcapp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        ), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_admin_url():
    """Base PostgreSQL URL when the run is on PostgreSQL, else None."""
    url = os.environ.get("DATABASE_URL", "")
    return _pg_admin_url(url) if url.startswith(PG_PREFIXES) else None


def _isolated_client_class():
    from flask.testing import FlaskClient

    class _Client(FlaskClient):
        """Each request runs in its own app context, as in production.

        The tests keep an app context pushed for direct database access; without
        this, requests would reuse it and share ``g`` (the logged-in user) and
        the database session with the test and with each other.
        """

        def open(self, *args, **kwargs):
            from flask import has_app_context

            from xcapp.extensions import db

            if has_app_context():
                # End the test's own transaction: it may hold SQLite's write
                # lock, and afterwards the test reads what the request wrote.
                db.session.commit()
            with self.application.app_context():
                return super().open(*args, **kwargs)

    return _Client


@pytest.fixture(scope="session")
def _app(database_url, tmp_path_factory):
    os.environ["XCAPP_INSTANCE"] = str(tmp_path_factory.mktemp("instance"))
    from xcapp import create_app
    from xcapp.config import TestConfig
    from xcapp.extensions import db

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.test_client_class = _isolated_client_class()
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _clear_tables(db):
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(_app):
    from xcapp.core.models import ensure_units
    from xcapp.extensions import db
    from xcapp.registry.services import ensure_categories

    with _app.app_context():
        _clear_tables(db)
        ensure_units()
        ensure_categories()
        db.session.commit()
    ctx = _app.app_context()
    ctx.push()
    yield _app
    db.session.rollback()
    db.session.remove()
    ctx.pop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(app):
    """make_user(role, unit_code, username=None) -> User (password PASSWORD)."""
    from xcapp.auth.services import create_user
    from xcapp.extensions import db

    counter = {"n": 0}

    def factory(role, unit_code="411000", username=None):
        counter["n"] += 1
        user = create_user(username or f"{role}_{unit_code}_{counter['n']}", PASSWORD, role, unit_code)
        db.session.commit()
        return user

    return factory


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, username, password=PASSWORD, **kwargs):
        return self.client.post("/auth/login", data={"username": username, "password": password}, **kwargs)

    def login_as(self, user):
        """Log in without the password hash round trip (fast, for matrix tests)."""
        with self.client.session_transaction() as sess:
            sess["_user_id"] = user.get_id()
            sess["_fresh"] = True

    def logout(self):
        with self.client.session_transaction() as sess:
            sess.clear()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make_enterprise(app):
    """make_enterprise(unit="411002", **fields) -> Enterprise with a valid USCC and licence number."""
    from datetime import date, timedelta

    from xcapp.extensions import db
    from xcapp.registry.services import save_enterprise
    from xcapp.registry.validation import make_uscc

    counter = {"n": 0}

    def factory(unit="411002", **fields):
        counter["n"] += 1
        n = counter["n"]
        data = {
            "name": f"许昌测试{n}号电缆有限公司", "uscc": make_uscc(f"91{unit}MA{n:07d}"),
            "address": "许昌市测试路1号", "production_address": "", "legal_rep": "张三", "contact": "李四",
            "phone": "0374-1234567", "licence_no": f"豫XK06-001-{n:05d}",
            "issue_date": date.today() - timedelta(days=365), "expiry_date": date.today() + timedelta(days=4 * 365), "category_id": "电线电缆", "product_scope": "电线电缆",
            "unit_id": unit, "risk": "中", "production_state": "正常生产", "licence_state": "有效",
        }
        data.update(fields)
        enterprise = save_enterprise(data)
        db.session.commit()
        return enterprise

    return factory


@pytest.fixture
def make_officer(app):
    """make_officer(unit="411002", **fields) -> Officer with a unique certificate number."""
    from datetime import date

    from xcapp.extensions import db
    from xcapp.registry.services import save_officer

    counter = {"n": 0}

    def factory(unit="411002", **fields):
        counter["n"] += 1
        data = {"name": f"检查员{counter['n']}", "cert_no": f"豫许执{unit[-2:]}{counter['n']:03d}", "unit_id": unit,
                "position": "科员", "phone": "13800000000", "cert_expiry": date(2030, 12, 31), "status": "在岗",
                "specialty_id": ""}
        data.update(fields)
        officer = save_officer(data)
        db.session.commit()
        return officer

    return factory


@pytest.fixture
def task_setup(app, make_enterprise, make_officer, make_user):
    """A dispatched task of 魏都区 with two officers, each linked to an inspector account."""
    from sqlalchemy import select

    from xcapp.extensions import db
    from xcapp.plans.models import Task
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers, freeze_plan
    from xcapp.registry.services import set_equipment

    enterprise = make_enterprise(unit="411002", risk="高", name="许昌喆堃电缆有限公司")
    set_equipment(enterprise, [{"name": "挤塑机", "model": "SJ-90", "quantity": 2},
                               {"name": "火花试验机", "model": "HF-15", "quantity": 1}])
    officers = [make_officer(unit="411002") for _ in range(2)]
    plan = create_plan({"code": "测试〔2023〕1号", "name": "测试", "year": 2030, "ratio_low": 100, "ratio_mid": 100,
                        "ratio_midhigh": 100, "ratio_high": 100, "k": 2, "deadline": "2030-10-31", "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "t")
    dispatch_plan(plan.id)
    # Dispatched some weeks ago: inspection dates must lie between dispatch and today.
    from datetime import timedelta

    from xcapp.core.timeutil import utcnow

    plan.dispatched_at = utcnow() - timedelta(days=90)
    task = db.session.scalar(select(Task))
    draw_officers(plan.id, task.unit_id, "")
    users = []
    for i, officer in enumerate(officers):
        user = make_user("inspector", "411002", username=f"jc{i}")
        officer.user_id = user.id
        users.append(user)
    db.session.commit()
    return task, officers, users


@pytest.fixture
def started(task_setup, client, auth):
    """task_setup with the first officer logged in and the checklist started."""
    from sqlalchemy import select

    from xcapp.extensions import db
    from xcapp.inspections.models import Inspection

    task, officers, users = task_setup
    auth.login_as(users[0])
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    inspection = db.session.scalar(select(Inspection))
    return task, officers, users, inspection
