from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.models import User
from ..auth.services import (AccountError, create_user, end_all_sessions, recent_failures_by_username,
                             set_active, unlock)
from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access, get_scoped_or_404
from ..core.models import all_units
from ..core.roles import CITY_ADMIN, INSPECTOR, ROLE_LABELS
from ..core.writes import write
from . import bp, queries
from .forms import UserForm


def _user_form() -> UserForm:
    form = UserForm()
    if current_user.role == CITY_ADMIN:
        form.role.choices = list(ROLE_LABELS.items())
        form.unit_code.choices = [(u.code, u.name) for u in all_units()]
    else:  # a county admin creates inspectors of its own unit only
        form.role.choices = [(INSPECTOR, ROLE_LABELS[INSPECTOR])]
        form.unit_code.choices = [(current_user.unit.code, current_user.unit.name)]
    return form


@bp.route("/users", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def users():
    form = _user_form()
    status = 200
    if request.method == "POST":
        if current_user.role not in ADMIN_ROLES:
            return render_template("errors/error.html", status=403, title="没有权限", message="只读账号不能创建用户。"), 403
        if form.validate_on_submit():
            with write(AccountError, form=form, field="username") as w:
                create_user(form.username.data, form.password.data, form.role.data,
                            form.unit_code.data, form.display_name.data, actor=current_user)
            if w.ok:
                flash(f"已创建用户 {form.username.data}。", "success")
                return redirect(url_for("admin.users"))
        status = 422
    rows = queries.users()
    return render_template("admin/users.html", users=rows, form=form,
                           failures=recent_failures_by_username([u.username for u in rows]),
                           free_failures=current_app.config["LOGIN_ACCOUNT_FREE_FAILURES"],
                           can_create=current_user.role in ADMIN_ROLES), status


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@access(*ADMIN_ROLES)
def user_active(user_id: int):
    user = get_scoped_or_404(User, user_id)
    if user.id == current_user.id:
        flash("不能停用自己的账号。", "error")
        return redirect(url_for("admin.users"))
    if current_user.role != CITY_ADMIN and user.role != INSPECTOR:
        flash("县局管理员只能启用或停用本单位的检查人员账号。", "error")
        return redirect(url_for("admin.users"))
    with write():
        set_active(user, request.form.get("active") == "1", actor=current_user)
    flash(f"已{'启用' if user.is_active else '停用'}用户 {user.username}。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
@access(*ADMIN_ROLES)
def user_sessions_end(user_id: int):
    """End every login session of a user (a lost phone): the city admin for anyone,
    a county admin for the users of its own unit (others are a 404)."""
    user = get_scoped_or_404(User, user_id)
    with write():
        end_all_sessions(user, actor=current_user)
    flash(f"已结束用户 {user.username} 的全部登录会话，该用户需重新登录。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@access(*ADMIN_ROLES)
def user_unlock(user_id: int):
    """Clear the user's recent login failures, so the login delay ends at once."""
    user = get_scoped_or_404(User, user_id)
    with write():
        cleared = unlock(user, actor=current_user)
    flash(f"已解除用户 {user.username} 的登录限制（清除 {cleared} 次失败记录）。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/units")
@access(*STAFF_ROLES)
def units():
    return render_template("admin/units.html", units=all_units())
