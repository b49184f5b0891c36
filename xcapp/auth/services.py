"""Accounts: authentication with throttling, creation and password changes."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ..audit.services import record
from ..core.models import Unit
from ..core.roles import ALL_ROLES, CITY_ADMIN, READONLY, ROLE_LABELS
from ..core.timeutil import utcnow
from ..extensions import db
from .models import LoginFailure, User

MIN_PASSWORD_LENGTH = 8


class AccountError(Exception):
    """A refused account operation; the message is shown to the user (Chinese)."""


@dataclass
class LoginResult:
    user: User | None
    error: str = ""


def _recent_failures(username: str) -> int:
    since = utcnow() - current_app.config["LOGIN_FAILURE_WINDOW"]
    return db.session.scalar(
        select(func.count()).select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at >= since)
    ) or 0


def authenticate(username: str, password: str, remote_addr: str = "") -> LoginResult:
    """Check a login. Commits the failure record or the audit row."""
    username = (username or "").strip()
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    minutes = int(current_app.config["LOGIN_FAILURE_WINDOW"].total_seconds() // 60)
    if _recent_failures(username) >= limit:
        record("login.refused_throttled", object_type="user_account", object_id=username,
               details={"username": username})
        db.session.commit()
        return LoginResult(None, f"该账号登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试。")
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.check_password(password) or not user.is_active:
        db.session.add(LoginFailure(username=username, remote_addr=remote_addr[:64]))
        record("login.failed", object_type="user_account", object_id=username,
               details={"username": username})
        db.session.commit()
        left = limit - _recent_failures(username)
        if left <= 0:
            return LoginResult(None, f"该账号登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试。")
        return LoginResult(None, f"用户名或密码错误（还可尝试 {left} 次）。")
    record("login.succeeded", user, details={"username": username}, user=user)
    db.session.commit()
    return LoginResult(user)


def find_unit(code: str) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        raise AccountError(f"未知单位代码：{code}")
    return unit


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位。")


def create_user(username: str, password: str, role: str, unit_code: str,
                display_name: str = "", actor=None) -> User:
    """Create an account; raises AccountError (nothing written) on bad input."""
    username = (username or "").strip()
    if not username:
        raise AccountError("用户名不能为空。")
    if role not in ALL_ROLES:
        raise AccountError(f"未知角色：{role}（可选：{', '.join(f'{r}={ROLE_LABELS[r]}' for r in ALL_ROLES)}）")
    unit = find_unit(unit_code)
    if role in (CITY_ADMIN, READONLY) and not unit.is_city:
        raise AccountError(f"{ROLE_LABELS[role]}账号必须属于市局（{unit.name}不是市局）。")
    if role not in (CITY_ADMIN, READONLY) and unit.is_city:
        raise AccountError(f"{ROLE_LABELS[role]}账号必须属于县（市、区）局或直属分局。")
    if db.session.scalar(select(User).where(User.username == username)):
        raise AccountError(f"用户名已存在：{username}")
    check_password_strength(password)
    user = User(username=username, role=role, unit=unit, display_name=display_name or username)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.created", user, details={"username": username, "role": role, "unit": unit.code},
           user=actor)
    return user


def set_password(username: str, password: str, actor=None) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"用户不存在：{username}")
    check_password_strength(password)
    user.set_password(password)
    record("user.password_set", user, details={"username": username}, user=actor)
    return user


def set_active(user: User, active: bool, actor=None) -> None:
    user.is_active_flag = active
    user.session_version += 1
    record("user.activated" if active else "user.deactivated", user,
           details={"username": user.username}, user=actor)
