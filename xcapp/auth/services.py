"""Accounts: authentication with throttling, creation and password changes."""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..core import slow
from ..core.models import Unit
from ..core.roles import ALL_ROLES, CITY_ADMIN, READONLY, ROLE_LABELS
from ..core.timeutil import utcnow
from ..db_setup import begin_write
from ..extensions import db
from .models import PASSWORD_METHOD, EndedSession, LoginFailure, User

MIN_PASSWORD_LENGTH = 8


class AccountError(Exception):
    """A refused account operation; the message is shown to the user (Chinese)."""


@dataclass
class LoginResult:
    user: User | None
    error: str = ""
    throttled: bool = False    # refused without checking the password: wait first


_dummy_hash: str | None = None


def dummy_hash() -> str:
    """A hash made like every account's (same method and cost) for a password nobody
    knows: an unknown user name costs the same work as a wrong password."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(16), method=PASSWORD_METHOD)
    return _dummy_hash


def _failures(column, value: str, since) -> tuple[int, object]:
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(column == value, LoginFailure.at >= since)
    ).one()
    return count or 0, last


def _delay(failures: int, free: int, base: timedelta, cap: timedelta) -> timedelta:
    """Growing delay before the next attempt: none for the first ``free`` failures, then
    base, 2 x base, 4 x base ... up to cap."""
    if failures < free:
        return timedelta(0)
    return min(base * 2 ** min(failures - free, 30), cap)


@dataclass
class ThrottleState:
    account_failures: int
    wait_seconds: int    # until the next attempt is allowed; 0 = now


def throttle_state(username: str, remote_addr: str = "") -> ThrottleState:
    """Failures of this account and of this client address within the window, and how long
    the next attempt has to wait (the longer of the two delays)."""
    cfg = current_app.config
    now = utcnow()
    since = now - cfg["LOGIN_FAILURE_WINDOW"]
    count, last = _failures(LoginFailure.username, username, since)
    wait = timedelta(0)
    if count:
        delay = _delay(count, cfg["LOGIN_ACCOUNT_FREE_FAILURES"], cfg["LOGIN_DELAY_BASE"],
                       cfg["LOGIN_ACCOUNT_MAX_DELAY"])
        wait = max(wait, last + delay - now)
    if remote_addr:
        addr_count, addr_last = _failures(LoginFailure.remote_addr, remote_addr[:64], since)
        if addr_count:
            delay = _delay(addr_count, cfg["LOGIN_ADDRESS_FREE_FAILURES"], cfg["LOGIN_DELAY_BASE"],
                           cfg["LOGIN_ADDRESS_MAX_DELAY"])
            wait = max(wait, addr_last + delay - now)
    return ThrottleState(count, max(0, math.ceil(wait.total_seconds())))


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


def _throttled_message(seconds: int) -> str:
    return f"登录失败次数过多，请 {wait_text(seconds)}后再试。"


def authenticate(username: str, password: str, remote_addr: str = "") -> LoginResult:
    """Check a login. Commits the failure record or the audit row.

    The slow part, the password hash, runs before anything is written, so under
    ``late_write_lock`` (the login route) it never holds SQLite's write lock; an unknown
    user name is checked against a dummy hash, so it takes the same time as a wrong
    password. Throttling delays the next attempt after repeated failures per account and
    per client address, growing with each failure; the account's delay stays short, so
    the right password gets in after a short wait even while someone else guesses."""
    username = (username or "").strip()
    remote_addr = (remote_addr or "")[:64]
    state = throttle_state(username, remote_addr)
    if state.wait_seconds > 0:
        begin_write(db.session)
        return _refuse_throttled(username, state)
    user = db.session.scalar(select(User).where(User.username == username))
    ok = slow.run(check_password_hash, user.password_hash if user is not None else dummy_hash(), password)
    ok = ok and user is not None and user.is_active
    begin_write(db.session)    # only now the write lock (SQLite), for the outcome
    if ok:
        # Attempts sent in parallel all passed the check above while their hashes ran:
        # a right guess among them counts only if the throttle still allows an attempt.
        state = throttle_state(username, remote_addr)
        if state.wait_seconds > 0:
            return _refuse_throttled(username, state)
    if not ok:
        db.session.add(LoginFailure(username=username, remote_addr=remote_addr))
        record("login.failed", object_type="user_account", object_id=username,
               details={"username": username})
        db.session.commit()
        after = throttle_state(username, remote_addr)
        if after.wait_seconds > 0:
            return LoginResult(None, "用户名或密码错误。" + _throttled_message(after.wait_seconds))
        left = current_app.config["LOGIN_ACCOUNT_FREE_FAILURES"] - after.account_failures
        return LoginResult(None, f"用户名或密码错误（还可尝试 {left} 次）。")
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    record("login.succeeded", user, details={"username": username}, user=user)
    db.session.commit()
    return LoginResult(user)


def _refuse_throttled(username: str, state: ThrottleState) -> LoginResult:
    record("login.refused_throttled", object_type="user_account", object_id=username,
           details={"username": username, "wait_seconds": state.wait_seconds})
    db.session.commit()
    return LoginResult(None, _throttled_message(state.wait_seconds), throttled=True)


def unlock(user: User, actor=None) -> int:
    """Clear the account's recent login failures (an admin helping a locked-out user)."""
    cleared = db.session.execute(delete(LoginFailure).where(LoginFailure.username == user.username)).rowcount
    record("user.unlocked", user, details={"username": user.username, "failures_cleared": cleared}, user=actor)
    return cleared


def recent_failures_by_username(usernames: list[str]) -> dict[str, int]:
    if not usernames:
        return {}
    since = utcnow() - current_app.config["LOGIN_FAILURE_WINDOW"]
    rows = db.session.execute(
        select(LoginFailure.username, func.count()).where(LoginFailure.username.in_(usernames),
                                                         LoginFailure.at >= since)
        .group_by(LoginFailure.username)
    ).all()
    return dict(rows)


def end_session(user: User, session_id: str | None) -> None:
    """Logout: this login session ends on the server, whatever copy of its cookie exists."""
    now = utcnow()
    keep = current_app.permanent_session_lifetime + timedelta(days=1)
    db.session.execute(delete(EndedSession).where(EndedSession.ended_at < now - keep))
    if session_id:
        db.session.add(EndedSession(session_id=session_id, user_id=user.id, ended_at=now))
    else:
        user.session_version += 1
    record("logout", user, user=user)


def end_all_sessions(user: User, actor=None) -> None:
    """Every login session of the user ends (a lost phone); the password stays."""
    user.session_version += 1
    record("user.sessions_ended", user, details={"username": user.username}, user=actor)


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


def find_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"用户不存在：{username}")
    return user


def set_password(username: str, password: str, actor=None) -> User:
    user = find_user(username)
    check_password_strength(password)
    user.set_password(password)
    record("user.password_set", user, details={"username": username}, user=actor)
    return user


def set_active(user: User, active: bool, actor=None) -> None:
    user.is_active_flag = active
    user.session_version += 1
    record("user.activated" if active else "user.deactivated", user,
           details={"username": user.username}, user=actor)
