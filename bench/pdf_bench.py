"""The 一企两表 PDF: median and p95 per form with the embedded CJK subset font (target
<= 250 ms), beside the same form with reportlab's built-in, non-embedded STSong-Light
(the floor; never shipped: viewers without Adobe-GB1 fonts show nothing)."""
from __future__ import annotations

import contextlib

from .common import Report, fresh_database, make_app, median, p95, timed

RUNS = 20
EMBEDDED_FONT_CSS = (
    '@font-face { font-family: XcappSerifSC; src: url("%s"); }\n'
    "body, table, td, th, div, p, span { font-family: XcappSerifSC; }\n"
)
BUILTIN_FONT_CSS = "body, table, td, th, div, p, span { font-family: STSong-Light; }\n"


@contextlib.contextmanager
def builtin_font():
    """Render the form with reportlab's built-in STSong-Light instead of the embedded font
    (the benchmark's floor only): the form's font rules are swapped before xhtml2pdf runs."""
    from xcapp.inspections import pdf

    original = pdf._html_to_pdf
    embedded = EMBEDDED_FONT_CSS % pdf.FONT_FILE.as_uri()

    def with_builtin_font(html: str) -> bytes:
        if embedded not in html:
            raise RuntimeError("the form's font rules changed: update bench/pdf_bench.py")
        return original(html.replace(embedded, BUILTIN_FONT_CSS))

    pdf._html_to_pdf = with_builtin_font
    try:
        yield
    finally:
        pdf._html_to_pdf = original


def run(report: Report) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from sqlalchemy import select

    from xcapp.demo import load_demo
    from xcapp.extensions import db
    from xcapp.inspections.models import Inspection
    from xcapp.inspections.pdf import render_inspection_pdf

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    with fresh_database("sqlite") as url:
        app = make_app(url)
        with app.app_context():
            load_demo()
            inspection = db.session.scalar(select(Inspection).where(Inspection.refused.is_(False),
                                                                    Inspection.seal_hash != "",
                                                                    Inspection.conclusion == "fail"))
            with app.test_request_context():
                url_ = "http://127.0.0.1:5000/public/records/" + inspection.seal_hash[:16]
                render_inspection_pdf(inspection, url_)          # warm: font parsing, template compile
                size = len(render_inspection_pdf(inspection, url_))
                _, embedded = timed(lambda: render_inspection_pdf(inspection, url_), repeat=RUNS)
                with builtin_font():
                    render_inspection_pdf(inspection, url_)
                    _, builtin = timed(lambda: render_inspection_pdf(inspection, url_), repeat=RUNS)
            report.add(f"一企两表 PDF (2 pages, 2 officer signatures + enterprise signature, QR): embedded subset font "
                       f"median {median(embedded) * 1000:.0f} ms, p95 {p95(embedded) * 1000:.0f} ms, {size // 1024} KB; "
                       f"floor = built-in non-embedded STSong-Light median {median(builtin) * 1000:.0f} ms; "
                       f"ratio {median(embedded) / median(builtin):.1f}x (target <= 250 ms)")
            _largest_record(report, inspection, url_)
            db.session.remove()
            db.engine.dispose()


def _largest_record(report: Report, inspection, url_: str) -> None:
    """The largest record the caps allow (issue 11.10): 30 item-12 rows with every field at
    its limit (all 不符合, so each also lands in the problem summary), every item remark at
    its limit and a full equipment table; target <= 2 s, beside the ordinary form."""
    from flask import current_app

    from xcapp.extensions import db
    from xcapp.inspections import rules
    from xcapp.inspections.models import EquipmentRow, ExtraRow
    from xcapp.inspections.pdf import render_inspection_pdf
    from xcapp.inspections.services import answers_map, remarks_map, rows_for_rules

    text = "产品执行标准与实施细则要求的检验项目核对记录" * 400
    for i in range(rules.MAX_EXTRA_ROWS):
        inspection.extra_rows.append(ExtraRow(inspection_id=inspection.id, position=i,
                                              project=text[:rules.MAX_ROW_PROJECT], record=text[:rules.MAX_ROW_RECORD],
                                              conclusion=rules.NONCONFORM, remark=text[:rules.MAX_ROW_REMARK]))
    for answer in inspection.answers:
        answer.remark = text[:rules.MAX_ITEM_REMARK]
    for i in range(len(inspection.equipment_rows), rules.MAX_EQUIPMENT_ROWS):
        inspection.equipment_rows.append(EquipmentRow(inspection_id=inspection.id, position=i, name=text[:100],
                                                      model=text[:100], licensed_qty=1, onsite_qty=1,
                                                      status=rules.EQUIP_SAME, remark=text[:rules.MAX_EQUIPMENT_REMARK]))
    inspection.problem_summary = rules.problem_summary(answers_map(inspection), rows_for_rules(inspection),
                                                       remarks_map(inspection))
    db.session.flush()
    with current_app.test_request_context():
        render_inspection_pdf(inspection, url_)
        size = len(render_inspection_pdf(inspection, url_))
        _, largest = timed(lambda: render_inspection_pdf(inspection, url_), repeat=3)
    db.session.rollback()
    with current_app.test_request_context():
        _, floor = timed(lambda: render_inspection_pdf(inspection, url_), repeat=3)
    report.add(f"一企两表 PDF, largest allowed record ({rules.MAX_EXTRA_ROWS} item-12 rows at "
               f"{rules.MAX_ROW_PROJECT}/{rules.MAX_ROW_RECORD}/{rules.MAX_ROW_REMARK} chars, item remarks "
               f"{rules.MAX_ITEM_REMARK} chars, {rules.MAX_EQUIPMENT_ROWS} equipment rows, remarks "
               f"{rules.MAX_EQUIPMENT_REMARK} chars): median "
               f"{median(largest) * 1000:.0f} ms, max {max(largest) * 1000:.0f} ms, {size // 1024} KB; floor = the "
               f"ordinary record median {median(floor) * 1000:.0f} ms; ratio {median(largest) / median(floor):.1f}x "
               f"(target <= 2000 ms)")
