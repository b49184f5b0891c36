"""Secrets and public addresses: no constant SECRET_KEY anywhere (development keeps a
random one in instance/secret_key), production refuses to start without PUBLIC_BASE_URL,
the public record link never follows the request's Host header, Secure cookies and HSTS
in production."""
import ast
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from xcapp.core.roles import CITY_ADMIN
from xcapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 8 + "0123456789abcdef0123456789abcdef"


def _make(config, monkeypatch, instance, url, **env):
    from xcapp import create_app

    monkeypatch.setenv("XCAPP_INSTANCE", str(instance))
    for name in ("SECRET_KEY", "PUBLIC_BASE_URL", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return create_app(config, SQLALCHEMY_DATABASE_URI=url)


def _dispose(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_development_key_is_random_and_kept_in_the_instance_folder(tmp_path, monkeypatch):
    from xcapp.config import Config

    url = "sqlite:///" + str(tmp_path / "dev.db")
    first = _make(Config, monkeypatch, tmp_path / "a", url)
    key_file = tmp_path / "a" / "secret_key"
    assert first.secret_key == key_file.read_text().strip() and len(first.secret_key) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _make(Config, monkeypatch, tmp_path / "a", url)
    assert again.secret_key == first.secret_key            # kept: sessions survive a restart
    other = _make(Config, monkeypatch, tmp_path / "b", url)
    assert other.secret_key != first.secret_key            # no two installations share a key
    for app in (first, again, other):
        _dispose(app)


def test_no_config_holds_a_constant_key():
    """The test configuration draws its key per run; no module assigns a literal to SECRET_KEY
    or gives os.environ.get("SECRET_KEY") a default."""
    code = "from xcapp.config import TestConfig, Config; print(TestConfig.SECRET_KEY, Config.SECRET_KEY)"
    runs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "SECRET_KEY"}).stdout for _ in range(2)}
    assert len(runs) == 2 and all(run.split()[1] == "None" for run in runs)
    offenders = []
    for path in (ROOT / "xcapp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str) and node.value.value \
                    and any(getattr(t, "id", getattr(t, "attr", "")) == "SECRET_KEY" for t in node.targets):
                offenders.append(f"{path}:{node.lineno}")
            if isinstance(node, ast.Call) and len(node.args) == 2 \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value == "SECRET_KEY":
                offenders.append(f"{path}:{node.lineno}")
    assert not offenders


def test_cookie_forged_with_the_old_default_key_opens_nothing(app, make_user, database_url, tmp_path, monkeypatch):
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    from tests.conftest import _isolated_client_class
    from xcapp.config import Config

    admin = make_user(CITY_ADMIN, username="boss")
    dev = _make(Config, monkeypatch, tmp_path / "inst", database_url)
    dev.test_client_class = _isolated_client_class()
    forger = Flask("forger")
    forger.secret_key = "dev-insecure-key"
    cookie = SecureCookieSessionInterface().get_signing_serializer(forger).dumps(
        {"_user_id": admin.get_id(), "_fresh": True})
    client = dev.test_client()
    client.set_cookie("session", cookie)
    assert client.get("/home").status_code == 302
    _dispose(dev)


def test_production_refuses_to_start_without_public_base_url(tmp_path, monkeypatch):
    from xcapp.config import ProductionConfig

    url = "sqlite:///" + str(tmp_path / "p.db")
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        _make(ProductionConfig, monkeypatch, tmp_path, url, SECRET_KEY=GOOD_KEY)
    for bad in ("xcapp.example.gov.cn", "ftp://x.cn", "https://", "https://x.cn/app?x=1"):
        with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
            _make(ProductionConfig, monkeypatch, tmp_path, url, SECRET_KEY=GOOD_KEY, PUBLIC_BASE_URL=bad)
    app = _make(ProductionConfig, monkeypatch, tmp_path, url, SECRET_KEY=GOOD_KEY,
                PUBLIC_BASE_URL="https://xcapp.example.gov.cn/")
    assert app.config["PUBLIC_BASE_URL"] == "https://xcapp.example.gov.cn/"
    _dispose(app)


def test_public_record_link_ignores_the_host_header(tmp_path, monkeypatch):
    from xcapp.config import ProductionConfig
    from xcapp.inspections.routes import public_record_url

    app = _make(ProductionConfig, monkeypatch, tmp_path, "sqlite:///" + str(tmp_path / "p.db"),
                SECRET_KEY=GOOD_KEY, PUBLIC_BASE_URL="https://xcapp.example.gov.cn")
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        link = public_record_url(SimpleNamespace(seal_hash="ab" * 32))
    assert link == "https://xcapp.example.gov.cn/public/records/" + "ab" * 8
    _dispose(app)


def test_production_cookies_are_secure_and_https_gets_hsts(app, database_url, tmp_path, monkeypatch):
    from xcapp.config import ProductionConfig

    prod = _make(ProductionConfig, monkeypatch, tmp_path, database_url, SECRET_KEY=GOOD_KEY,
                 PUBLIC_BASE_URL="https://xcapp.example.gov.cn")
    response = prod.test_client().get("/auth/login")
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    _dispose(prod)
    # Explicitly turned off for plain HTTP (make run): no Secure flag, no HSTS.
    plain = _make(ProductionConfig, monkeypatch, tmp_path, database_url, SECRET_KEY=GOOD_KEY,
                  PUBLIC_BASE_URL="http://127.0.0.1:5000", SESSION_COOKIE_SECURE="0")
    response = plain.test_client().get("/auth/login")
    assert "Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers
    _dispose(plain)
    # Development: no HSTS.
    assert "Strict-Transport-Security" not in app.test_client().get("/auth/login").headers


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_gives_the_public_address_and_plain_http_cookies():
    out = subprocess.run(["make", "-n", "run", "HOST=10.0.0.5", "PORT=8080"], cwd=ROOT, capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items()
                                         if k not in ("PUBLIC_BASE_URL", "SESSION_COOKIE_SECURE")}).stdout
    assert 'PUBLIC_BASE_URL="http://10.0.0.5:8080"' in out and 'SESSION_COOKIE_SECURE="0"' in out
    out = subprocess.run(["make", "-n", "run", "PUBLIC_BASE_URL=https://xcapp.example.gov.cn"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    assert 'SESSION_COOKIE_SECURE="1"' in out
