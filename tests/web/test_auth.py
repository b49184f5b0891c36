from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, AuthActions
from xcapp.audit.models import AuditLog
from xcapp.auth.models import LoginFailure, User
from xcapp.core.roles import CITY_ADMIN, COUNTY_ADMIN, INSPECTOR, READONLY
from xcapp.extensions import db


def test_login_page_is_chinese_and_logs_in(client, make_user, auth):
    make_user(CITY_ADMIN, username="alice")
    page = client.get("/auth/login")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in text and "登录" in text
    response = auth.login("alice")
    assert response.status_code == 302
    home = client.get("/home")
    assert home.status_code == 200 and "您好" in home.get_data(as_text=True)
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "login.succeeded")) is not None


def _age_failures(seconds):
    """Let time pass for the throttle: move every recorded failure back."""
    for failure in db.session.scalars(select(LoginFailure)):
        failure.at = failure.at - timedelta(seconds=seconds)
    db.session.commit()


def _wait_seconds(text):
    import re

    match = re.search(r"请 (\d+) (秒|分钟)后再试", text)
    assert match, text
    return int(match.group(1)) * (60 if match.group(2) == "分钟" else 1)


def test_wrong_password_counts_down_then_delays_grow_without_locking_out(client, make_user, auth, app):
    make_user(INSPECTOR, "411002", username="bob")
    for attempt in range(5):
        response = auth.login("bob", "wrong-password")
        assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "登录失败次数过多" in text and _wait_seconds(text) == 2
    # While the delay runs even the right password waits, with a clear message...
    response = auth.login("bob", PASSWORD)
    assert response.status_code == 429 and 1 <= _wait_seconds(response.get_data(as_text=True)) <= 2
    assert client.get("/home").status_code == 302
    # ...and each further failure doubles the delay, up to a short cap.
    waits = []
    for _ in range(7):
        _age_failures(_wait_seconds(response.get_data(as_text=True)) + 1)
        response = auth.login("bob", "wrong-password")
        assert response.status_code == 422
        waits.append(_wait_seconds(response.get_data(as_text=True)))
    assert waits == [4, 8, 16, 32, 60, 60, 60]
    # After that short wait the right password gets in (no 15-minute lock).
    _age_failures(61)
    assert auth.login("bob", PASSWORD).status_code == 302
    assert client.get("/home").status_code == 200
    # A success clears the account's failures.
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)
                             .where(LoginFailure.username == "bob")) == 0
    # Another account is not affected.
    make_user(INSPECTOR, "411002", username="carol")
    client.post("/auth/logout")
    assert auth.login("carol").status_code == 302


def test_throttled_attempt_is_refused_before_the_hash(client, make_user, auth, monkeypatch):
    from xcapp.auth import services

    make_user(INSPECTOR, "411002", username="tom")
    for _ in range(5):
        auth.login("tom", "wrong-password")
    calls = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    assert auth.login("tom", PASSWORD).status_code == 429
    assert calls == []
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "login.refused_throttled")) is not None


def test_one_address_guessing_many_accounts_is_slowed(client, make_user, auth, app):
    make_user(INSPECTOR, "411002", username="uma")
    attacker = {"REMOTE_ADDR": "10.9.8.7"}
    free = app.config["LOGIN_ADDRESS_FREE_FAILURES"]
    for n in range(free):   # a different user name each time: no account delay applies
        response = auth.login(f"guess{n}", "wrong-password", environ_base=attacker)
        assert response.status_code == 422, n
    text = response.get_data(as_text=True)
    assert _wait_seconds(text) == 2
    refused = auth.login("uma", PASSWORD, environ_base=attacker)
    assert refused.status_code == 429 and "登录失败次数过多" in refused.get_data(as_text=True)
    # The address's delay keeps growing past the account cap.
    for _ in range(8):
        _age_failures(_wait_seconds(response.get_data(as_text=True)) + 1)
        response = auth.login("guess-more", "wrong-password", environ_base=attacker)
    assert _wait_seconds(response.get_data(as_text=True)) > app.config["LOGIN_ACCOUNT_MAX_DELAY"].total_seconds()
    # The inspector from her own phone is not affected.
    assert auth.login("uma", PASSWORD, environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 302


def test_unknown_user_costs_the_same_hash_as_a_wrong_password(client, make_user, auth, monkeypatch):
    from xcapp.auth import services

    user = make_user(INSPECTOR, "411002", username="vera")
    calls = []
    real = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    unknown = auth.login("no-such-user", "wrong-password")
    wrong = auth.login("vera", "wrong-password")
    assert len(calls) == 2
    assert calls[0] == services.dummy_hash() and calls[1] == user.password_hash
    # Same method and cost parameters (e.g. "scrypt:32768:8:1"), so the same work.
    assert calls[0].split("$")[0] == calls[1].split("$")[0]
    assert unknown.status_code == wrong.status_code == 422
    assert _message(unknown) == _message(wrong)
    # Both are recorded alike.
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 2


def _message(response):
    import re

    return re.search(r'role="alert">([^<]*)<', response.get_data(as_text=True)).group(1)


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
def test_password_hash_runs_without_the_write_lock(client, make_user, auth, monkeypatch, database_url, password):
    """Another client's write is not held up by a login: while the hash runs, another
    connection can take the write lock at once (SQLite: the writer queue and the database
    lock; PostgreSQL: the audit chain head and the account's row)."""
    import fcntl
    import os
    import sqlite3

    from sqlalchemy import create_engine, text

    from xcapp.auth import services

    make_user(INSPECTOR, "411002", username="wendy")
    probes = []
    real = services.check_password_hash

    def probe(stored, given):
        if database_url.startswith("sqlite"):
            path = database_url[len("sqlite:///"):]
            fd = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # raises if held
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")                    # "database is locked" if held
                other.execute("ROLLBACK")
            finally:
                other.close()
        else:
            engine = create_engine(database_url)
            with engine.connect() as conn:
                conn.execute(text("SELECT 1 FROM audit_head FOR UPDATE NOWAIT"))
                conn.execute(text("SELECT 1 FROM user_account WHERE username = 'wendy' FOR UPDATE NOWAIT"))
                conn.rollback()
            engine.dispose()
        probes.append(True)
        return real(stored, given)

    monkeypatch.setattr(services, "check_password_hash", probe)
    response = auth.login("wendy", password)
    assert probes == [True]
    assert response.status_code == (302 if password == PASSWORD else 422)
    action = "login.succeeded" if password == PASSWORD else "login.failed"
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == action)) is not None


def test_throttle_window_expires(client, make_user, auth):
    make_user(INSPECTOR, "411002", username="dave")
    for _ in range(5):
        auth.login("dave", "nope-nope")
    # Age the failures beyond the 15-minute window.
    for failure in db.session.scalars(select(LoginFailure)):
        failure.at = failure.at - timedelta(minutes=16)
    db.session.commit()
    assert auth.login("dave").status_code == 302


def test_first_failures_show_remaining_attempts(client, make_user, auth):
    make_user(INSPECTOR, "411002", username="erin")
    text = auth.login("erin", "bad-password").get_data(as_text=True)
    assert "用户名或密码错误（还可尝试 4 次）" in text


def test_logout_requires_post_and_ends_session(client, make_user, auth):
    make_user(READONLY, username="vic")
    auth.login("vic")
    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 302
    assert client.get("/home").status_code == 302


def test_cookie_copied_before_logout_opens_nothing(app, client, make_user, auth):
    make_user(INSPECTOR, "411002", username="xena")
    auth.login("xena")
    copied = client.get_cookie("session").value
    other_device = app.test_client()
    AuthActions(other_device).login("xena")          # the same user on a second device
    assert client.post("/auth/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/home").status_code == 302
    assert thief.get("/inspections/mine", headers={"HX-Request": "true"}).status_code == 401
    # Only that session ended: the other device stays logged in.
    assert other_device.get("/home").status_code == 200
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "logout")) is not None


def test_password_change_ends_other_sessions(client, make_user, auth, app):
    from xcapp.auth.services import set_password

    make_user(COUNTY_ADMIN, "411002", username="frank")
    auth.login("frank")
    assert client.get("/home").status_code == 200
    set_password("frank", "another-password-1")
    db.session.commit()
    assert client.get("/home").status_code == 302


def test_safe_next_redirect(client, make_user, auth):
    make_user(CITY_ADMIN, username="gina")
    response = client.post("/auth/login?next=https://evil.example/x",
                           data={"username": "gina", "password": PASSWORD})
    assert response.headers["Location"].endswith("/home")
    client.post("/auth/logout")
    response = client.post("/auth/login?next=/admin/units",
                           data={"username": "gina", "password": PASSWORD})
    assert response.headers["Location"].endswith("/admin/units")


def test_expired_session_htmx_gets_hx_redirect(client):
    response = client.get("/audit/verify", headers={"HX-Request": "true",
                                                    "HX-Current-URL": "http://localhost/audit/?action=x"})
    assert response.status_code == 401
    target = response.headers["HX-Redirect"]
    assert target.startswith("/auth/login?")
    assert "next=/audit/?action%3Dx" in target or "next=%2Faudit%2F%3Faction%3Dx" in target
    assert "<html" not in response.get_data(as_text=True)
    # A plain request gets an ordinary redirect instead.
    plain = client.get("/audit/verify")
    assert plain.status_code == 302 and "/auth/login" in plain.headers["Location"]


def test_session_cookie_flags(client, make_user, auth):
    make_user(CITY_ADMIN, username="hank")
    response = auth.login("hank")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/auth/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    static = client.get("/static/js/vendor/htmx-2.0.11.js")
    assert "max-age=31536000" in static.headers["Cache-Control"]
    static.close()


def test_error_pages_in_chinese(client, make_user, auth):
    assert "页面不存在" in client.get("/no-such-page").get_data(as_text=True)
    make_user(INSPECTOR, "411002", username="ivan")
    auth.login("ivan")
    forbidden = client.get("/audit/")
    assert forbidden.status_code == 403 and "没有权限" in forbidden.get_data(as_text=True)
    fragment = client.get("/audit/", headers={"HX-Request": "true"})
    assert fragment.status_code == 403 and "<html" not in fragment.get_data(as_text=True)


def test_csrf_enforced_when_enabled(database_url):
    """One app with CSRF on: a POST without the token is refused, with it accepted."""
    import re

    from xcapp import create_app
    from xcapp.auth.services import create_user
    from xcapp.config import TestConfig

    from tests.conftest import _isolated_client_class

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, WTF_CSRF_ENABLED=True)
    app.test_client_class = _isolated_client_class()
    with app.app_context():
        from xcapp.core.models import ensure_units
        ensure_units()
        create_user("csrfuser", PASSWORD, CITY_ADMIN, "411000")
        db.session.commit()
        client = app.test_client()
        refused = client.post("/auth/login", data={"username": "csrfuser", "password": PASSWORD})
        assert refused.status_code in (400, 422) and client.get("/home").status_code == 302
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        ok = client.post("/auth/login", data={"username": "csrfuser", "password": PASSWORD, "csrf_token": token})
        assert ok.status_code == 302
        home = client.get("/home").get_data(as_text=True)
        header_token = re.search(r'"X-CSRFToken": "([^"]+)"', home).group(1)
        # An htmx-style POST carries the token in the header.
        assert client.post("/auth/logout").status_code == 400
        assert client.post("/auth/logout", headers={"X-CSRFToken": header_token}).status_code == 302
        db.session.remove()
        db.engine.dispose()


def test_production_config_refuses_default_key(monkeypatch):
    from xcapp import create_app
    from xcapp.config import ProductionConfig

    for bad in ("", "dev", "change-me", "short-key"):
        monkeypatch.setenv("SECRET_KEY", bad)
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app(ProductionConfig)
    monkeypatch.delenv("SECRET_KEY")
    with pytest.raises(RuntimeError):
        create_app(ProductionConfig)


def test_deactivated_user_cannot_log_in(client, make_user, auth):
    user = make_user(INSPECTOR, "411002", username="jill")
    user.is_active_flag = False
    db.session.commit()
    assert auth.login("jill").status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_admin_ends_all_sessions_of_a_user(app, client, make_user, auth):
    """A lost phone: the county admin ends every session of an inspector of its unit."""
    inspector = make_user(INSPECTOR, "411002", username="yan")
    phone, laptop = app.test_client(), app.test_client()
    AuthActions(phone).login("yan")
    AuthActions(laptop).login("yan")
    other_admin = make_user(COUNTY_ADMIN, "411081", username="yuzhou")
    auth.login_as(other_admin)
    assert client.post(f"/admin/users/{inspector.id}/sessions/end").status_code == 404
    assert phone.get("/home").status_code == 200
    admin = make_user(COUNTY_ADMIN, "411002", username="weidu")
    auth.login_as(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{inspector.id}/sessions/end" in page and "结束全部登录" in page
    response = client.post(f"/admin/users/{inspector.id}/sessions/end", follow_redirects=True)
    assert response.status_code == 200 and "已结束用户 yan 的全部登录会话" in response.get_data(as_text=True)
    assert phone.get("/home").status_code == 302 and laptop.get("/home").status_code == 302
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.sessions_ended"))
    assert entry.username == "weidu" and entry.object_id == str(inspector.id)
    # The password still works: the inspector logs in again.
    assert AuthActions(phone).login("yan").status_code == 302


def test_admin_unlocks_a_throttled_user(app, client, make_user, auth):
    inspector = make_user(INSPECTOR, "411002", username="zhao")
    phone = app.test_client()
    for _ in range(5):
        AuthActions(phone).login("zhao", "wrong-password")
    assert AuthActions(phone).login("zhao").status_code == 429
    auth.login_as(make_user(CITY_ADMIN, username="city"))
    page = client.get("/admin/users").get_data(as_text=True)
    assert "登录受限：近期失败 5 次" in page and "解除登录限制" in page
    response = client.post(f"/admin/users/{inspector.id}/unlock", follow_redirects=True)
    assert "已解除用户 zhao 的登录限制" in response.get_data(as_text=True)
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.unlocked"))
    assert entry.username == "city" and __import__("json").loads(entry.details)["failures_cleared"] == 5
    assert AuthActions(phone).login("zhao").status_code == 302


def test_client_address_behind_a_trusted_proxy_only(app, client, auth, database_url):
    """The per-address throttle counts the client's address: X-Forwarded-For is believed only
    from configured proxies (TRUSTED_PROXIES), so a guesser cannot dodge it by forging one."""
    from tests.conftest import _isolated_client_class
    from xcapp import create_app
    from xcapp.config import TestConfig

    auth.login("nobody", "wrong-password", headers={"X-Forwarded-For": "1.2.3.4"},
               environ_base={"REMOTE_ADDR": "10.0.0.1"})
    proxied = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, TRUSTED_PROXIES=1)
    proxied.test_client_class = _isolated_client_class()
    AuthActions(proxied.test_client()).login("nobody", "wrong-password", headers={"X-Forwarded-For": "1.2.3.4"},
                                             environ_base={"REMOTE_ADDR": "10.0.0.1"})
    with proxied.app_context():
        db.engine.dispose()
    addresses = db.session.scalars(select(LoginFailure.remote_addr).order_by(LoginFailure.id)).all()
    assert addresses == ["10.0.0.1", "1.2.3.4"]


def test_right_guess_among_parallel_attempts_does_not_get_in(client, make_user, auth, monkeypatch, database_url):
    """Guesses sent in parallel all pass the throttle before their hashes run; one that is
    right counts only if the throttle still allows an attempt once the others failed."""
    from sqlalchemy import create_engine, text

    from xcapp.auth import services

    make_user(INSPECTOR, "411002", username="quinn")
    real = services.check_password_hash

    def parallel_failures(stored, given):
        engine = create_engine(database_url)   # the other attempts fail meanwhile
        with engine.begin() as conn:
            for _ in range(6):
                conn.execute(text("INSERT INTO login_failure (username, at, remote_addr) "
                                  "VALUES ('quinn', :at, '10.0.0.2')"), {"at": services.utcnow()})
        engine.dispose()
        return real(stored, given)

    monkeypatch.setattr(services, "check_password_hash", parallel_failures)
    response = auth.login("quinn", PASSWORD)
    assert response.status_code == 429 and "登录失败次数过多" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302
