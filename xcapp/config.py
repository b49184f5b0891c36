"""Configuration classes. Everything secret or site-specific comes from the environment."""
import os
from datetime import timedelta

# Keys that must never be accepted in production (documentation examples, old defaults).
INSECURE_KEYS = {"", "dev", "change-me", "changeme", "secret", "dev-insecure-key"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-key")
    # None means: sqlite file instance/xcapp.db, resolved in create_app().
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # How long a write waits for another one's lock (SQLite busy timeout, PostgreSQL
    # lock_timeout) before the app answers 503 "please retry".
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000"))

    # Inspectors keep the checklist open all morning: sessions and CSRF tokens
    # live for a working day.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE")

    MAX_CONTENT_LENGTH = 12 * 1024 * 1024  # photos are at most 10 MB, imports 5 MB

    # Login throttling: this many failures for one account within the window
    # refuse further attempts until the window has passed.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW = timedelta(minutes=15)

    SEND_FILE_MAX_AGE_DEFAULT = timedelta(days=365)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")

    PRODUCTION = False

    @classmethod
    def check(cls) -> None:
        """Refuse configurations that are unsafe; called by create_app()."""


class ProductionConfig(Config):
    PRODUCTION = True

    @classmethod
    def check(cls) -> None:
        key = os.environ.get("SECRET_KEY", "")
        if key.strip().lower() in INSECURE_KEYS or len(key) < 32:
            raise RuntimeError(
                "SECRET_KEY is missing or insecure: set the SECRET_KEY environment "
                "variable to a random value of at least 32 characters "
                "(生产环境必须设置安全的 SECRET_KEY)"
            )
        cls.SECRET_KEY = key


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    SECRET_KEY = "test-only-key-not-for-production-0123456789"
    # The test suite passes the database URI explicitly (tests/conftest.py).
    LOGIN_FAILURE_WINDOW = timedelta(minutes=15)


def config_from_env():
    """The configuration class selected by XCAPP_ENV (production|development)."""
    env = os.environ.get("XCAPP_ENV", "development").lower()
    return ProductionConfig if env == "production" else Config
