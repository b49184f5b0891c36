"""`flask tasks pdf`: the 一企两表 of a task's latest record."""
from __future__ import annotations

import click

from ..core.cli import fail, write_output
from ..plans.cli import task_by_code, tasks_cli


@tasks_cli.command("pdf")
@click.argument("task_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def tasks_pdf(task_code, output):
    """Write the 一企两表 PDF of the task's latest record."""
    from flask import current_app

    from .pdf import render_inspection_pdf
    from .services import latest

    task = task_by_code(task_code)
    inspection = latest(task)
    if inspection is None:
        fail(f"错误：抽查任务 {task_code} 尚未开始检查")
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    url = f"{base}/public/records/{inspection.seal_hash[:16]}" if inspection.seal_hash else ""
    with current_app.test_request_context():
        data = render_inspection_pdf(inspection, url)
    write_output(output, data)
