"""`flask enterprises|officers|equipment import|export`, `flask enterprises import-risk`,
`flask purge`: the registries from and to files."""
from __future__ import annotations

import click

from ..core.cli import fail
from ..extensions import db
from . import bp


def _import_command(kind: str, path: str, dry_run: bool) -> None:
    from .importing import ImportRejected, analyse, apply

    with open(path, "rb") as fh:
        data = fh.read()
    name = path.rsplit("/", 1)[-1]
    if dry_run:
        preview = analyse(kind, data, name)
        db.session.rollback()
    else:
        try:
            preview = apply(kind, data, name)
            db.session.commit()
        except ImportRejected as exc:
            db.session.rollback()
            preview = exc.preview
        except Exception:
            db.session.rollback()
            raise
    for problem in preview.problems:
        where = f"第 {problem.row} 行" if problem.row else "文件"
        column = f"「{problem.column}」" if problem.column else ""
        click.echo(f"{where}{column}：{problem.message}", err=True)
    if preview.problems:
        fail(f"共 {len(preview.problems)} 处问题，未写入任何数据。")
    if preview.rows == 0:
        fail("文件中没有数据行，未写入任何数据。")
    s = preview.summary()
    verb = "检查通过（未写入）" if dry_run else "导入完成"
    click.echo(f"{verb}：{s['rows']} 行，新增 {s['created']}，更新 {s['updated']}，未变化 {s['unchanged']}")


def _export_command(kind: str, path: str) -> None:
    from sqlalchemy import select

    from . import exporting
    from .models import Enterprise, Officer

    fmt = "csv" if path.lower().endswith(".csv") else "xlsx"
    if kind == "enterprises":
        data = exporting.enterprises(select(Enterprise), fmt)
    elif kind == "equipment":
        data = exporting.equipment(select(Enterprise), fmt)
    else:
        data = exporting.officers(select(Officer), fmt)
    with open(path, "wb") as fh:
        fh.write(data)
    click.echo(f"已导出到 {path}")


@bp.cli.group("enterprises")
def enterprises_cli():
    """生产企业数据库"""


@bp.cli.group("officers")
def officers_cli():
    """执法检查人员数据库"""


@bp.cli.group("equipment")
def equipment_cli():
    """关键生产设备（取证时）"""


for _group, _kind in ((enterprises_cli, "enterprises"), (officers_cli, "officers"), (equipment_cli, "equipment")):
    def _make(kind):
        @click.argument("file", type=click.Path(exists=True, dir_okay=False))
        @click.option("--dry-run", is_flag=True, help="只检查，不写入")
        def import_cmd(file, dry_run):
            """Import FILE (.xlsx or .csv) all-or-nothing; prints every row error."""
            _import_command(kind, file, dry_run)

        @click.argument("file", type=click.Path(dir_okay=False))
        def export_cmd(file):
            """Export to FILE (.xlsx or .csv, by extension) in the import's columns."""
            _export_command(kind, file)
        return import_cmd, export_cmd

    _imp, _exp = _make(_kind)
    _group.command("import")(_imp)
    _group.command("export")(_exp)


@enterprises_cli.command("import-risk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，不写入")
def enterprises_import_risk(file, dry_run):
    """Import risk classes (统一社会信用代码, 风险等级) of registered enterprises, all-or-nothing."""
    _import_command("risk", file, dry_run)


@bp.cli.command("purge")
@click.option("--days", type=int, default=None, help="retention in days (default: IMPORT_FILE_RETENTION_DAYS)")
def purge_command(days):
    """Delete rejected or unconfirmed import files older than the retention period (problem lists stay)."""
    from flask import current_app

    from .importing import purge_expired_files

    days = current_app.config["IMPORT_FILE_RETENTION_DAYS"] if days is None else days
    if days < 0:
        fail("错误：--days 不能为负数")
    count = purge_expired_files(days)
    db.session.commit()
    click.echo(f"已删除 {count} 个超过 {days} 天的导入文件内容（问题清单保留）")
