"""`flask reports summary`, `flask tasks notice`, `flask archive task|plan`."""
from __future__ import annotations

import click

from ..core.cli import fail, write_output
from ..plans.cli import plan_by_code, task_by_code, tasks_cli
from . import bp


@bp.cli.group("reports")
def reports_cli():
    """工作总结统计表 (summary report)"""


@bp.cli.group("archive")
def archive_cli():
    """归档 ZIP (archives with manifest)"""


@reports_cli.command("summary")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.xlsx or FILE.pdf")
def reports_summary(plan_code, output):
    """Write the plan's summary report (工作总结统计表), the dashboard's figures, as XLSX or PDF."""
    from flask import current_app

    from ..core.roles import CITY_ADMIN
    from ..oversight.figures import summary
    from .summary import to_pdf, to_xlsx

    if not output.lower().endswith((".xlsx", ".pdf")):
        fail("错误：输出文件须以 .xlsx 或 .pdf 结尾")
    plan = plan_by_code(plan_code)
    s = summary(plan, _CityWide(CITY_ADMIN))
    with current_app.test_request_context():
        data = to_xlsx(s) if output.lower().endswith(".xlsx") else to_pdf(s)
    write_output(output, data)


class _CityWide:
    """The command line sees the whole city (as the city admin does)."""

    def __init__(self, role):
        self.role = role
        self.is_authenticated = True


@tasks_cli.command("notice")
@click.argument("task_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def tasks_notice(task_code, output):
    """Write the 检查通知书 of the task as PDF."""
    from flask import current_app

    from .notices import inspection_notice_pdf

    task = task_by_code(task_code)
    with current_app.test_request_context():
        data = inspection_notice_pdf(task)
    write_output(output, data)


def _write_archive(kind: str, code: str, output: str) -> None:
    """`archive task` and `archive plan`: the task's or the plan's ZIP into OUTPUT.part, renamed
    to OUTPUT once whole (a failure leaves no half archive)."""
    import os

    from flask import current_app

    from .archive import write_plan_archive, write_task_archive

    if kind == "task":
        owner, write = task_by_code(code), write_task_archive
    else:
        owner, write = plan_by_code(code), write_plan_archive
    tmp = output + ".part"
    try:
        with open(tmp, "wb") as fh, current_app.test_request_context():
            writer = write(owner, fh)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    click.echo(f"已写入 {output}（{len(writer.files) + 1} 个文件，{len(writer.records)} 版记录；"
               f"解压后 sha256sum -c SHA256SUMS 校验）")


def _archive_command(kind: str, doc: str) -> None:
    @archive_cli.command(kind, help=doc)
    @click.argument("code", metavar=f"{kind.upper()}_CODE")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
    def command(code, output):
        _write_archive(kind, code, output)


_archive_command("task", "Write the task's archive (ZIP with manifest.json and SHA256SUMS).")
_archive_command("plan", "Write the archive of every task of the plan, streamed entry by entry.")
