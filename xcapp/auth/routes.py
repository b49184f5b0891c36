from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..audit.services import record
from ..core.authz import EVERYONE, access
from ..extensions import db
from . import bp
from .forms import LoginForm
from .services import authenticate


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if not target:
        return url_for("main.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("main.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
@access(public=True)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = ""
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, request.remote_addr or "")
        if result.user is not None:
            session.clear()
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    status = 200 if request.method == "GET" else (422 if error or form.errors else 200)
    expired = request.args.get("expired") == "1"
    return render_template("auth/login.html", form=form, error=error, expired=expired), status


@bp.route("/logout", methods=["POST"])
@access(*EVERYONE, session_only=True)
def logout():
    record("logout", current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))
