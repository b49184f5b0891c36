"""Read-side queries of the admin screens: the user list."""
from __future__ import annotations

from sqlalchemy import select

from ..auth.models import User
from ..core.authz import scoped
from ..extensions import db


def users() -> list[User]:
    """The users the user may see, by unit, role and username."""
    return db.session.scalars(scoped(select(User), User).order_by(User.unit_id, User.role, User.username)).all()
