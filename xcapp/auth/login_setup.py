"""Flask-Login wiring: loading users, and answering requests without a valid login."""
from functools import cache

from flask import Flask, redirect, request, url_for

from ..extensions import db, login_manager
from ..htmx import hx_redirect


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.session_protection = "basic"
    if not app.config.get("TESTING"):
        from .services import dummy_hash

        dummy_hash()   # made now, so the first unknown user name costs no extra work

    @login_manager.user_loader
    def load_user(user_id: str):
        try:   # "id:version:session id" (see User.get_id)
            ident, version, session_id = user_id.split(":")
            ident, version = int(ident), int(version)
        except ValueError:
            return None
        row = db.session.execute(_user_statement(), {"session_id": session_id, "user_id": ident}).first()
        user, ended = row if row is not None else (None, None)
        if user is None or ended is not None or user.session_version != version or not user.is_active:
            return None
        user.session_id = session_id
        return user

    @login_manager.unauthorized_handler
    def unauthorized():
        # Return to the page the user was on; for an htmx request that is the
        # page holding the fragment (HX-Current-URL), not the fragment's URL.
        if request.headers.get("HX-Request") == "true":
            current = request.headers.get("HX-Current-URL") or request.referrer or ""
            target = url_for("auth.login", next=_local_path(current), expired=1)
            return hx_redirect(target, status=401)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@cache
def _user_statement():
    """One statement, built once (every request runs it): the user and whether this
    session was ended by a logout."""
    from sqlalchemy import bindparam, select

    from .models import EndedSession, User

    return (select(User, EndedSession.session_id)
            .outerjoin(EndedSession, EndedSession.session_id == bindparam("session_id"))
            .where(User.id == bindparam("user_id")))


def _local_path(url: str) -> str:
    """Keep only the path and query of a URL of this site (no open redirects)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return "/"
    path = parts.path or "/"
    return path + ("?" + parts.query if parts.query else "")
