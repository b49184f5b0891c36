"""Demo data for `flask --app wsgi demo load` (idempotent): the demo accounts here, each
feature's part in a module of this package, run in the order of :func:`demo_steps`.
Only the ``demo`` command imports this package (the features never do); ``synthetic``
also feeds the benchmarks and tests.

Demo passwords are generated at random on the first load and kept in
instance/demo-accounts.json (not in the repository), so that no deployment
ever has a password that is published in the source.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..auth.models import User
from ..auth.services import create_user
from ..core.models import ensure_units
from ..core.roles import CITY_ADMIN, COUNTY_ADMIN, INSPECTOR, READONLY, ROLE_LABELS
from ..extensions import db

DEMO_ACCOUNTS = [
    # username, role, unit code, display name
    ("admin", CITY_ADMIN, "411000", "市局管理员（演示）"),
    ("viewer", READONLY, "411000", "督查人员（演示，只读）"),
    ("weidu", COUNTY_ADMIN, "411002", "魏都区局管理员（演示）"),
    ("yuzhou", COUNTY_ADMIN, "411081", "禹州市局管理员（演示）"),
    ("jingkai", COUNTY_ADMIN, "411071", "经开区分局管理员（演示）"),
    ("weidu_jc1", INSPECTOR, "411002", "张建国"),
    ("weidu_jc2", INSPECTOR, "411002", "李玥"),
    ("jingkai_jc1", INSPECTOR, "411071", "王喆"),
]


def accounts_file() -> Path:
    return Path(current_app.instance_path) / "demo-accounts.json"


def read_accounts() -> list[dict]:
    path = accounts_file()
    if not path.exists():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


def _write_accounts(accounts: list[dict]) -> None:
    path = accounts_file()
    path.write_text(json.dumps(accounts, ensure_ascii=False, indent=1), encoding="utf-8")
    os.chmod(path, 0o600)


def load_demo() -> list[dict]:
    ensure_units()
    known = {a["username"]: a for a in read_accounts()}
    accounts = []
    for username, role, unit_code, name in DEMO_ACCOUNTS:
        user = db.session.scalar(select(User).where(User.username == username))
        entry = known.get(username)
        if user is None:
            password = secrets.token_urlsafe(9)
            create_user(username, password, role, unit_code, name)
        elif entry is None:  # the file was lost: give the account a new known password
            password = secrets.token_urlsafe(9)
            user.set_password(password)
        else:
            password = entry["password"]
        accounts.append({"username": username, "password": password, "role": role,
                         "unit": unit_code, "name": name})
    db.session.commit()
    _write_accounts(accounts)
    for step in demo_steps():
        step()
        db.session.commit()
    return accounts


def demo_steps() -> list:
    """Each feature's part of the demo data, in the order they build on each other."""
    from .inspections import load_inspections
    from .oversight import load_follow_through, load_follow_up
    from .plans import load_plan
    from .publicity import load_publications
    from .registry import load_registries

    return [load_registries, load_plan, load_inspections, load_follow_up, load_follow_through, load_publications]


def print_accounts(accounts: list[dict], echo) -> None:
    if not accounts:
        echo("还没有演示账号：请先运行 flask --app wsgi demo load")
        return
    echo("演示账号 (demo accounts):")
    for a in accounts:
        echo(f"  {a['username']:<12} {a['password']:<14} {ROLE_LABELS[a['role']]:<6} {a['unit']}  {a['name']}")
