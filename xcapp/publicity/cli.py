"""`flask workdays add`, `flask publicity export`."""
from __future__ import annotations

import sys

import click

from ..core.cli import fail, write_output
from ..extensions import db
from ..plans.cli import plan_by_code
from . import bp


@bp.cli.group("workdays")
def workdays_cli():
    """工作日"""


@bp.cli.group("publicity")
def publicity_cli():
    """公示"""


@workdays_cli.command("add")
@click.argument("start")
@click.argument("n", type=int)
def workdays_add(start, n):
    """Print the n-th working day after START (YYYY-MM-DD), or 待定 for an uncovered year."""
    from datetime import date

    from .services import add_workdays

    try:
        day = date.fromisoformat(start)
    except ValueError:
        fail("错误：日期格式应为 2023-09-25")
    result = add_workdays(day, n)
    if result is None:
        click.echo("待定（该年度节假日安排尚未录入，不能推算）")
        sys.exit(3)
    click.echo(result.isoformat())


@publicity_cli.command("export")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--encoding", type=click.Choice(["utf-8", "gb18030"]), default="utf-8")
def publicity_export(plan_code, output, encoding):
    """Write the publicity CSV of the plan's approved tasks."""
    from .services import export_publicity

    plan = plan_by_code(plan_code)
    data = export_publicity(plan, "gb18030" if encoding == "gb18030" else "utf-8-sig")
    db.session.commit()
    write_output(output, data)
