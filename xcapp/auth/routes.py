from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..core.authz import EVERYONE, access
from ..core.writes import write
from ..db_setup import late_write_lock
from . import bp
from .forms import LoginForm
from .models import new_session_id
from .services import authenticate, end_session


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
@late_write_lock    # the password hash runs before the write lock is taken
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error, result = "", None
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, request.remote_addr or "")
        if result.user is not None:
            session.clear()
            result.user.session_id = new_session_id()   # a new login session, ended by logout
            login_user(result.user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        error = result.error
    status = 200 if request.method == "GET" else (422 if error or form.errors else 200)
    if error and result.throttled:
        status = 429    # wait, then try again (the message says how long)
    expired = request.args.get("expired") == "1"
    return render_template("auth/login.html", form=form, error=error, expired=expired), status


@bp.route("/logout", methods=["POST"])
@access(*EVERYONE, session_only=True)
def logout():
    user = current_user._get_current_object()
    with write():
        end_session(user, user.session_id)   # a copy of the cookie opens nothing from now on
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))
