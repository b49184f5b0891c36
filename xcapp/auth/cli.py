"""`flask users ...`: login accounts."""
from __future__ import annotations

import click

from ..core.cli import fail
from ..extensions import db
from . import bp


@bp.cli.group("users")
def users_cli():
    """登录账号 (accounts)"""


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="city_admin | county_admin | inspector | readonly")
@click.option("--unit", "unit_code", required=True, help="单位代码, e.g. 411000, 411002")
@click.option("--name", "display_name", default="", help="姓名")
@click.password_option(prompt="密码 (password)", confirmation_prompt="再次输入 (repeat)")
def users_create(username, role, unit_code, display_name, password):
    """Create an account (asks for the password)."""
    from .services import AccountError, create_user

    try:
        user = create_user(username, password, role, unit_code, display_name)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已创建用户 {user.username}（{user.role_label}，{user.unit.name}）")


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(prompt="新密码 (new password)", confirmation_prompt="再次输入 (repeat)")
def users_set_password(username, password):
    """Set a new password; the user's existing sessions end."""
    from .services import AccountError, set_password

    try:
        set_password(username, password)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已更新 {username} 的密码")


@users_cli.command("end-sessions")
@click.argument("username")
def users_end_sessions(username):
    """End every login session of the user (e.g. a lost phone); audited."""
    from .services import AccountError, end_all_sessions, find_user

    try:
        end_all_sessions(find_user(username))
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已结束 {username} 的全部登录会话")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username):
    """Clear the user's recent login failures (ends the login delay); audited."""
    from .services import AccountError, find_user, unlock

    try:
        cleared = unlock(find_user(username))
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已解除 {username} 的登录限制（清除 {cleared} 次失败记录）")
