from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
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


def test_wrong_password_counts_down_then_throttles(client, make_user, auth, app):
    make_user(INSPECTOR, "411002", username="bob")
    for attempt in range(5):
        response = auth.login("bob", "wrong-password")
        assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "登录失败次数过多" in text
    # Even the right password is refused while throttled, with a clear message.
    response = auth.login("bob", PASSWORD)
    assert response.status_code == 422
    assert "请 15 分钟后再试" in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302
    # Another account is not affected.
    make_user(INSPECTOR, "411002", username="carol")
    assert auth.login("carol").status_code == 302


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
