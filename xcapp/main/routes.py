from flask import redirect, render_template, url_for
from flask_login import current_user

from ..core.authz import EVERYONE, access
from ..core.roles import INSPECTOR
from . import bp


@bp.route("/")
@access(public=True)
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("main.home"))


@bp.route("/home")
@access(*EVERYONE)
def home():
    return render_template("main/home.html", is_inspector=current_user.role == INSPECTOR)


@bp.route("/healthz")
@access(public=True)
def healthz():
    from ..extensions import db

    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}


@bp.route("/favicon.ico")
@access(public=True)
def favicon():
    """Browsers ask for /favicon.ico whatever the page links; answer it (no 404 in the console)."""
    from flask import current_app, send_from_directory

    response = send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                                   max_age=86400)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
