"""Login accounts and failed-login records."""
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.models import Unit
from ..core.roles import ROLE_LABELS
from ..core.timeutil import utcnow
from ..extensions import db


PASSWORD_METHOD = "scrypt"


def new_session_id() -> str:
    return secrets.token_urlsafe(18)


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    is_active_flag: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Changing the password invalidates existing sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=1)

    unit: Mapped[Unit] = relationship(lazy="joined")

    @classmethod
    def unit_scope_column(cls):
        return cls.unit_id

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)
        self.session_version = (self.session_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return bool(self.is_active_flag)

    # The login session this object was loaded for or logged in with (not a column).
    session_id = None

    def get_id(self) -> str:
        """Flask-Login's session value: id, session version (a new password or an admin's
        "end all sessions" raises it) and the random id of this login session (logout
        ends it on the server, see EndedSession)."""
        # An object not loaded for a login session (a new login, a test) starts a new one.
        return f"{self.id}:{self.session_version}:{self.session_id or new_session_id()}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def name(self) -> str:
        return self.display_name or self.username


class LoginFailure(db.Model):
    """One failed login attempt, kept for throttling."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), default="", index=True)


class EndedSession(db.Model):
    """A login session ended by logout: its cookie, even if copied before, opens nothing.

    Rows are needed only while such a cookie could still be valid (the session
    lifetime); older ones are deleted at the next logout."""

    __tablename__ = "ended_session"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
