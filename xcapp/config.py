"""Configuration classes. Everything secret or site-specific comes from the environment.

No secret has a constant default: production refuses to start without SECRET_KEY,
development keeps a random key generated once in ``instance/secret_key`` (see
xcapp.create_app), the test configuration draws a new one per run.
"""
import os
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

# Keys that must never be accepted in production (documentation examples, old defaults).
INSECURE_KEYS = {"", "dev", "change-me", "changeme", "secret", "dev-insecure-key"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _check_secret_key(key: str) -> None:
    if key.strip().lower() in INSECURE_KEYS or len(key) < 32:
        raise RuntimeError(
            "SECRET_KEY is missing or insecure: set the SECRET_KEY environment "
            "variable to a random value of at least 32 characters "
            "(生产环境必须设置安全的 SECRET_KEY)"
        )


def _check_public_base_url(url: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/") or parts.query:
        raise RuntimeError(
            "PUBLIC_BASE_URL is missing or invalid: set it to the public address of the site, "
            "e.g. https://xcapp.example.gov.cn (the QR code and the public record check link use it, "
            "never the request's Host header; 生产环境必须设置 PUBLIC_BASE_URL，例如 https://xcapp.example.gov.cn)"
        )


class Config:
    # None: create_app() uses the SECRET_KEY environment variable or, outside
    # production, a random key kept in instance/secret_key. Never a constant.
    SECRET_KEY = None
    # None means: sqlite file instance/xcapp.db, resolved in create_app().
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # How long a write waits for another one's lock (SQLite busy timeout, PostgreSQL
    # lock_timeout) before the app answers 503 "please retry".
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000"))

    # Inspectors keep the checklist open all morning: sessions and CSRF tokens
    # live for a working day.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # The cookie is written at login and not again on every request: a save does not pay
    # for serialising, compressing and signing it (about 1 ms); the working day counts
    # from the login.
    SESSION_REFRESH_EACH_REQUEST = False
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")

    MAX_CONTENT_LENGTH = 12 * 1024 * 1024  # photos are at most 10 MB, imports 5 MB
    # Rejected or never-confirmed import files (personal data) are deleted after this
    # many days by `flask --app wsgi purge`; their problem list stays.
    IMPORT_FILE_RETENTION_DAYS = int(os.environ.get("IMPORT_FILE_RETENTION_DAYS", "7"))

    # Login throttling with growing delays, per account and per client address:
    # failures within the window beyond the free ones make the next attempt wait
    # LOGIN_DELAY_BASE, doubling with each further failure up to the cap. The account's
    # cap is short, so nobody can keep an inspector locked out; an address trying many
    # accounts is slowed far more.
    LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
    LOGIN_ACCOUNT_FREE_FAILURES = 5
    LOGIN_ADDRESS_FREE_FAILURES = 20
    LOGIN_DELAY_BASE = timedelta(seconds=2)
    LOGIN_ACCOUNT_MAX_DELAY = timedelta(seconds=60)
    LOGIN_ADDRESS_MAX_DELAY = timedelta(minutes=15)

    # CPU-heavy work of a request (password hash, photo decoding, import parsing) runs on a
    # thread this much lower in priority (Linux nice), so saves get the CPU first; 0: off.
    SLOW_WORK_NICE = int(os.environ.get("SLOW_WORK_NICE", "10"))

    SEND_FILE_MAX_AGE_DEFAULT = timedelta(days=365)
    # The site's public address (scheme://host[:port]) for the QR code and the public
    # record check link; required in production. Read when the app is created.
    PUBLIC_BASE_URL = ""

    # Reverse proxies in front of the app (nginx: 1) whose X-Forwarded-For and
    # X-Forwarded-Proto are trusted: the client's address for the login throttle and
    # HTTPS for HSTS. 0: the app is reached directly. The Host header is never trusted.
    TRUSTED_PROXIES = 0

    PRODUCTION = False

    @classmethod
    def from_environment(cls) -> dict:
        """Settings read from the environment when the app is created (not at import)."""
        values = {}
        if os.environ.get("SECRET_KEY"):
            values["SECRET_KEY"] = os.environ["SECRET_KEY"]
        if os.environ.get("PUBLIC_BASE_URL"):
            values["PUBLIC_BASE_URL"] = os.environ["PUBLIC_BASE_URL"].strip()
        if os.environ.get("TRUSTED_PROXIES"):
            values["TRUSTED_PROXIES"] = int(os.environ["TRUSTED_PROXIES"])
        return values

    @classmethod
    def check(cls, config) -> None:
        """Refuse configurations that are unsafe; called by create_app() with the final settings."""
        if config.get("SECRET_KEY"):
            _check_secret_key(config["SECRET_KEY"])
        if config.get("PUBLIC_BASE_URL"):
            _check_public_base_url(config["PUBLIC_BASE_URL"])


class ProductionConfig(Config):
    PRODUCTION = True

    @classmethod
    def from_environment(cls) -> dict:
        values = super().from_environment()
        # Secure cookies unless explicitly turned off (SESSION_COOKIE_SECURE=0, plain HTTP).
        secure = _bool("SESSION_COOKIE_SECURE", True)
        values.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure)
        return values

    @classmethod
    def check(cls, config) -> None:
        _check_secret_key(config.get("SECRET_KEY") or "")
        _check_public_base_url(config.get("PUBLIC_BASE_URL") or "")


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    SECRET_KEY = secrets.token_hex(32)   # a new one per test run
    # The test suite passes the database URI explicitly (tests/conftest.py).


def config_from_env():
    """The configuration class selected by XCAPP_ENV (production|development)."""
    env = os.environ.get("XCAPP_ENV", "development").lower()
    return ProductionConfig if env == "production" else Config
