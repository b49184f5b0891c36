"""The summary report (工作总结统计表) as XLSX and as PDF, both from ``figures.summary``."""
from __future__ import annotations

import io

from ..inspections.pdf import FONT_FILE
from ..oversight import figures

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


FONT_NAME = "XcappSerifSC-Report"
BLUE = "#12467a"


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(FONT_FILE)))
    return FONT_NAME


def _bar(fraction: float, width: float, color: str = BLUE):
    """A horizontal bar (vector graphics) of ``fraction`` of ``width``."""
    from reportlab.graphics.shapes import Drawing, Rect
    from reportlab.lib import colors

    drawing = Drawing(width, 9)
    drawing.add(Rect(0, 1, width, 7, fillColor=colors.HexColor("#e4e8ec"), strokeColor=None))
    if fraction > 0:
        drawing.add(Rect(0, 1, width * min(fraction, 1.0), 7, fillColor=colors.HexColor(color), strokeColor=None))
    return drawing


def to_pdf(s: figures.Summary) -> bytes:
    """The report as PDF with bar charts, built with reportlab's platypus directly: a province's
    150 units make tables of thousands of cells, which HTML layout (xhtml2pdf) takes half a
    minute to set; platypus takes about a second. Same embedded font as every PDF of the app."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=9)
    head = ParagraphStyle("head", parent=body, fontSize=7, leading=8.5, alignment=1)
    title = ParagraphStyle("title", parent=body, fontSize=15, leading=20, alignment=1)
    h2 = ParagraphStyle("h2", parent=body, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3)
    grid = TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 7),
                       ("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("ALIGN", (1, 1), (-1, -1), "CENTER"),
                       ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                       ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f3f3f3")),
                       ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)])
    width = landscape(A4)[0] - 2.4 * cm

    def table(header, rows, first: float):
        data = [[Paragraph(h, head) for h in header]] + [[_fmt(v) for v in row] for row in rows]
        rest = (width - first) / (len(header) - 1)
        t = Table(data, colWidths=[first] + [rest] * (len(header) - 1), repeatRows=1)
        t.setStyle(grid)
        return t

    story = [Paragraph("“双随机一公开”监督检查工作总结统计表", title),
             Paragraph(f"抽查计划：{_esc(s.plan.code)}　{_esc(s.plan.name)}　　统计日期：{s.today.year} 年 {s.today.month} 月 "
                       f"{s.today.day} 日　　检查截止：{s.plan.deadline}", body)]
    header, rows = figures.task_table(s)
    story += [Paragraph("一、任务完成情况", h2), table(header, rows, 2.6 * cm)]
    story += [Paragraph("二、检查项目不符合情况（户）", h2)]
    top = s.max_item or 1
    chart = [[str(c.no), Paragraph(_esc(c.text), body), _bar(c.nonconform / top, 13 * cm, "#9b2c2c"),
              f"{c.nonconform}" + (f"（{c.share * 100:.1f}%）" if c.share is not None else "")]
             for c in s.item_counts]
    t = Table(chart, colWidths=[1 * cm, 8.5 * cm, 13.5 * cm, width - 23 * cm])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                           ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [t, Paragraph("按已提交或已通过的检查记录计，每户每项至多计 1 次；第 12 项任一行不符合即计 1 户。", small)]
    story += [Paragraph("三、任务完成率", h2)]
    rates = []
    for row in [*s.rows, s.total]:
        rate = row.rate("done", "drawn")
        rates.append([_esc(row.unit.name) if row.unit else "合计", _bar(rate or 0, 18 * cm),
                      f"{rate * 100:.0f}%" if rate is not None else "—"])
    t = Table(rates, colWidths=[3 * cm, 18.5 * cm, width - 21.5 * cm], repeatRows=0)
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), 8),
                           ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5)]))
    story += [t, Paragraph("四、后续处理情况（案件数）", h2)]
    header, rows = figures.outcome_table(s)
    story += [table(header, rows, 3 * cm), Spacer(1, 4),
              Paragraph("任务完成率 = 有检查结果（已检查或记录未能检查，已提交或已通过）的任务 ÷ 抽取任务；结果公示率 = 已公示 ÷ "
                        f"有检查结果的任务；按期公示 = 公示不晚于检查后 {s.plan.publication_workdays} 个工作日。", small)]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=1.2 * cm, rightMargin=1.2 * cm,
                            topMargin=1.2 * cm, bottomMargin=1.2 * cm, title=f"工作总结统计表 {s.plan.code}",
                            author="xcapp")
    doc.build(story)
    return buf.getvalue()


def _esc(text) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text))


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)
