"""The 一企两表 PDF: median and p95 per form with the embedded CJK subset font (target
<= 250 ms), beside the same form with reportlab's built-in, non-embedded STSong-Light
(the floor; never shipped: viewers without Adobe-GB1 fonts show nothing)."""
from __future__ import annotations

from .common import Report, fresh_database, make_app, median, p95, timed

RUNS = 20


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
                render_inspection_pdf(inspection, url_, builtin_font=True)
                size = len(render_inspection_pdf(inspection, url_))
                _, embedded = timed(lambda: render_inspection_pdf(inspection, url_), repeat=RUNS)
                _, builtin = timed(lambda: render_inspection_pdf(inspection, url_, builtin_font=True), repeat=RUNS)
            report.add(f"一企两表 PDF (2 pages, 2 officer signatures + enterprise signature, QR): embedded subset font "
                       f"median {median(embedded) * 1000:.0f} ms, p95 {p95(embedded) * 1000:.0f} ms, {size // 1024} KB; "
                       f"floor = built-in non-embedded STSong-Light median {median(builtin) * 1000:.0f} ms; "
                       f"ratio {median(embedded) / median(builtin):.1f}x (target <= 250 ms)")
            db.session.remove()
            db.engine.dispose()
