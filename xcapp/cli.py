"""The app's own commands: `flask demo ...`, `flask backup`, `flask restore`. Each feature's
commands live in its package (`auth/cli.py`: `flask users ...`, `plans/cli.py`: `flask plans ...`,
...) on its blueprint's `bp.cli` and come in with the blueprint."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .core.cli import fail
from .extensions import db

demo_cli = AppGroup("demo", help="演示数据 (demo data)")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="only when the database has no accounts yet (first run)")
def demo_load(if_empty):
    """Load the demo data (idempotent) and print the demo accounts."""
    from .auth.models import User
    from .demo import load_demo, print_accounts, read_accounts

    if if_empty and db.session.scalar(db.select(User).limit(1)) is not None:
        click.echo("数据库中已有账号，跳过演示数据加载。")
        print_accounts(read_accounts(), click.echo)
        return
    accounts = load_demo()
    print_accounts(accounts, click.echo)


@demo_cli.command("accounts")
def demo_accounts():
    """Print the demo accounts created by `demo load`."""
    from .demo import print_accounts, read_accounts

    print_accounts(read_accounts(), click.echo)


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
def backup_command(file):
    """Back up the whole database to FILE (SQLite online backup or pg_dump)."""
    from .backup import BackupError, backup

    try:
        how = backup(db.engine, file)
    except BackupError as exc:
        fail(f"错误：{exc}")
    click.echo(f"已备份到 {file}（{how}）")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore_command(file):
    """Restore FILE into the configured, empty database."""
    from .audit.services import verify_chain
    from .backup import BackupError, restore

    try:
        how = restore(db.engine, file)
    except BackupError as exc:
        fail(f"错误：{exc}")
    db.session.remove()
    result = verify_chain()
    click.echo(f"已恢复（{how}）；审计日志 {result.count} 条，校验{'通过' if result.ok else '失败：' + result.message}")
    if not result.ok:
        sys.exit(1)


def register_cli(app: Flask) -> None:
    for command in (demo_cli, backup_command, restore_command):
        app.cli.add_command(command)
