"""xcapp: 双随机一公开 inspections of industrial-product production-licence holders."""
from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

from flask import Flask, request

from .config import config_from_env
from .extensions import csrf, db, login_manager, migrate
from .resources import INSTALLED, MIGRATIONS, STATIC, TEMPLATES

ROOT = Path(__file__).resolve().parent.parent


def create_app(config=None, **overrides) -> Flask:
    config = config or config_from_env()
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        # A checkout keeps its instance/ folder; an installed xcapp uses Flask's
        # <prefix>/var/xcapp-instance, never a folder inside site-packages.
        instance_path=os.environ.get("XCAPP_INSTANCE") or (None if INSTALLED else str(ROOT / "instance")),
    )
    app.config.from_object(config)
    app.config.update(config.from_environment())
    app.config.update(overrides)
    from .core.params import IdConverter
    app.url_map.converters["int"] = IdConverter   # an id no database column holds is a 404, not a 500
    config.check(app.config)   # production: SECRET_KEY and PUBLIC_BASE_URL or no start
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "xcapp.db")
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql://"):  # plain URLs use psycopg 3, not psycopg2
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgresql://"):]

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    _import_models()
    from .db_setup import configure_postgresql, configure_sqlite, is_sqlite

    with app.app_context():
        if is_sqlite(db.engine):
            configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], not app.config.get("TESTING"))
        elif db.engine.dialect.name == "postgresql":
            configure_postgresql(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])

    from .auth import login_setup
    login_setup.init_app(app)

    from .core.authz import enforce_access
    app.before_request(enforce_access)

    _register_blueprints(app)
    _register_template_helpers(app)
    _register_security_headers(app)

    from .errors.handlers import register_error_handlers
    register_error_handlers(app)

    from . import compression
    compression.init_app(app)

    from .cli import register_cli
    register_cli(app)
    return app


def instance_secret_key(instance_path: str) -> str:
    """Outside production without SECRET_KEY: a random key generated on first use and
    kept in instance/secret_key (mode 0600), so sessions survive a restart and no
    installation shares a key with another."""
    path = os.path.join(instance_path, "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:   # first use; O_EXCL: two starting workers never write different keys
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    for _ in range(50):   # another process may be writing it right now
        with open(path) as fh:
            key = fh.read().strip()
        if key:
            break
        time.sleep(0.02)
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key: delete it and start again")
    return key


def _import_models() -> None:
    """Import every feature's models, so that the metadata is complete (migrations, create_all)."""
    from .audit import models as _audit  # noqa: F401
    from .auth import models as _auth  # noqa: F401
    from .core import models as _core  # noqa: F401
    from .registry import models as _registry  # noqa: F401
    from .plans import models as _plans  # noqa: F401
    from .inspections import models as _inspections  # noqa: F401
    from .publicity import models as _publicity  # noqa: F401
    from .oversight import models as _oversight  # noqa: F401
    from .reports import models as _reports  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .main import bp as main_bp
    from .admin import bp as admin_bp
    from .inspections import bp as inspections_bp
    from .plans import bp as plans_bp
    from .public import bp as public_bp
    from .oversight import bp as oversight_bp
    from .publicity import bp as publicity_bp
    from .registry import bp as registry_bp
    from .reports import bp as reports_bp

    for bp in (auth_bp, main_bp, audit_bp, admin_bp, registry_bp, plans_bp, public_bp, inspections_bp,
               publicity_bp, oversight_bp, reports_bp):
        # cli_group=None: a feature's commands (its `cli.py`, on `bp.cli`) stand at the top,
        # `flask users create`, not under the blueprint's name.
        app.register_blueprint(bp, cli_group=None)


def vocabularies() -> dict:
    """Every feature's vocabularies (each ``<feature>/vocab.py``'s ``__all__``), as template
    globals: ``{% if task.state == TaskState.PENDING %}``, ``{% for r in RiskClass %}``."""
    from .inspections import vocab as inspections
    from .oversight import vocab as oversight
    from .plans import vocab as plans
    from .registry import vocab as registry

    names: dict = {}
    for module in (registry, plans, inspections, oversight):
        for name in module.__all__:
            if name in names:
                raise RuntimeError(f"two vocabularies named {name}")
            names[name] = getattr(module, name)
    return names


def _register_template_helpers(app: Flask) -> None:
    from .core import roles
    from .core.timeutil import fmt_dt

    static_versions: dict[str, tuple[str, str]] = {}   # name asked for -> (file served, version)

    def static_url(filename: str) -> str:
        """URL of a static file with a content hash, so it can be cached for a year.
        Outside debug a script ``x.js`` is served as its minified build ``x.min.js``
        when there is one (tools/build_offline_js.py)."""
        from flask import url_for

        known = static_versions.get(filename)
        if known is None:
            served = filename
            if not app.debug and filename.endswith(".js") and not filename.endswith(".min.js"):
                minified = filename[:-3] + ".min.js"
                if (Path(app.static_folder) / minified).exists():
                    served = minified
            path = Path(app.static_folder) / served
            known = (served, hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "0")
            if not app.debug:
                static_versions[filename] = known
        return url_for("static", filename=known[0], v=known[1])

    # The vendored htmx in both upstream builds of the same version: the readable one
    # for development, the minified one on the wire (17 KB instead of 38 KB gzipped).
    htmx_file = "js/vendor/htmx-2.0.11.js" if app.debug else "js/vendor/htmx-2.0.11.min.js"
    app.jinja_env.globals.update(static_url=static_url, roles=roles, htmx_file=htmx_file)
    app.jinja_env.globals.update(vocabularies())
    app.jinja_env.filters["dt"] = fmt_dt


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _register_security_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        if app.config.get("PRODUCTION") and (
                request.is_secure or app.config.get("PUBLIC_BASE_URL", "").startswith("https://")):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint == "static":
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            headers.setdefault("Cache-Control", "no-store")
            # One URL may answer with a page or an htmx fragment.
            response.vary.add("HX-Request")
        return response
