"""Template helpers of the inspection screens: people by name, today's date.

Records keep the login name of whoever acted (``submitted_by``, ``equipment_confirmed_by``,
``reviewed_by``); screens show the person: the officer's name when the account belongs to an
officer, else the account's display name, else the login name."""
from __future__ import annotations

from datetime import date

from flask import g, has_app_context
from sqlalchemy import select

from ..core.timeutil import local_today
from ..extensions import db
from . import bp


def person_name(username: str | None) -> str:
    if not username:
        return ""
    cache = g.setdefault("person_names", {}) if has_app_context() else {}
    if username not in cache:
        cache[username] = _lookup(username)
    return cache[username]


def _lookup(username: str) -> str:
    from ..auth.models import User
    from ..registry.models import Officer

    row = db.session.execute(
        select(Officer.name, User.display_name).select_from(User)
        .outerjoin(Officer, Officer.user_id == User.id).where(User.username == username)
    ).first()
    if row is None:
        return username
    return row[0] or row[1] or username


def remember_person(username: str, name: str) -> None:
    """A name the caller already knows (an officer saving), so the page need not look it up."""
    if has_app_context() and username and name:
        g.setdefault("person_names", {})[username] = name


@bp.app_template_filter("person")
def _person_filter(username: str | None) -> str:
    return person_name(username)


@bp.app_template_global("local_today")
def _local_today() -> date:
    return local_today()
