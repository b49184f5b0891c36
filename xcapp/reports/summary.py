"""The summary report (工作总结统计表) as XLSX and as PDF, both from ``figures.summary``."""
from __future__ import annotations

import io

from flask import render_template

from ..inspections.pdf import FONT_FILE, _html_to_pdf
from . import figures

SHEETS = ("任务完成情况", "不符合项目统计", "后续处理情况")


def to_xlsx(s: figures.Summary) -> bytes:
    """One sheet per table; counts are integers and rates numbers with a percent format."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    tables = (figures.task_table(s), figures.item_table(s), figures.outcome_table(s))
    for title, (header, rows) in zip(SHEETS, tables):
        ws = wb.create_sheet(title)
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in rows:
            ws.append([_cell(v) for v in row])
        for col, name in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(col)].width = 36 if name == "检查项目" else \
                (18 if col == 1 else 11)
            if "率" in name or "比例" in name:
                for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                    cell.number_format = "0.0%"
        ws.freeze_panes = "B2"
    info = wb.create_sheet("说明")
    for row in (("抽查计划", s.plan.code), ("计划名称", s.plan.name), ("年度", s.plan.year),
                ("统计日期", s.today.isoformat()), ("检查截止", s.plan.deadline.isoformat()),
                ("公示期限（工作日）", s.plan.publication_workdays),
                ("口径", "任务完成率 = 有检查结果（已检查或记录未能检查，已提交或已通过）的任务 ÷ 抽取任务；"
                        "结果公示率 = 已公示 ÷ 有检查结果的任务；按期公示 = 首次公示日期不晚于检查日期后规定的工作日数；"
                        "不符合项目按已检查企业计，每户每项至多计 1 次；后续处理按案件（企业）计。")):
        info.append(list(row))
    info.column_dimensions["A"].width = 20
    info.column_dimensions["B"].width = 80
    wb.properties.title = f"工作总结统计表 {s.plan.code}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value):
    return "" if value is None else value


def to_pdf(s: figures.Summary) -> bytes:
    task_header, task_rows = figures.task_table(s)
    html = render_template("pdf/report_summary.html", s=s, task_header=task_header, task_rows=task_rows,
                           outcome_header=figures.outcome_table(s)[0], outcome_rows=figures.outcome_table(s)[1],
                           font_url=FONT_FILE.as_uri())
    return _html_to_pdf(html)
