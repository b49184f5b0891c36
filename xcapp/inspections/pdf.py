"""The 一企两表 as PDF (xhtml2pdf) with the embedded CJK subset font: the form laid
out like the attachment, with ☑/☐ for what was recorded, the signatures, the seal
and a QR code to the public record check; and a blank form for paper fallback."""
from __future__ import annotations

import base64
import io
from pathlib import Path

from flask import render_template

from ..resources import TEMPLATES
from . import rules

FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"
FONT_FILE = FONT_DIR / "XcappSerifSC-GBK.ttf"
TEMPLATE_DIR = TEMPLATES / "pdf"


class PdfError(Exception):
    pass


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def qr_data_uri(text: str) -> str:
    import qrcode

    image = qrcode.make(text, box_size=4, border=1)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return _data_uri(buf.getvalue(), "image/png")


def _html_to_pdf(html: str) -> bytes:
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    out = io.BytesIO()
    policy = ResourceAccessPolicy(base_dir=TEMPLATE_DIR, extra_roots=(FONT_DIR,), allow_remote=False)
    result = pisa.CreatePDF(html, dest=out, path=str(TEMPLATE_DIR / "inspection.html"), resource_policy=policy,
                            encoding="utf-8")
    if result.err:
        raise PdfError(f"PDF rendering failed ({result.err} errors)")
    return out.getvalue()


def _item_rows(inspection):
    rows = []
    for item in rules.ITEMS.values():
        answer = inspection.answer(item.no) if inspection else None
        chosen = set(answer.record.split(",")) if answer and answer.record else set()
        parents = {o.parent for o in item.options if o.code in chosen and o.parent}
        records = []
        for opt in item.options:
            if opt.parent:
                continue
            mark = "☑" if (opt.code in chosen or opt.code in parents) else "☐"
            children = [o for o in item.options if o.parent == opt.code]
            if children:
                inner = " ".join(("☑" if c.code in chosen else "☐") + c.label for c in children)
                records.append(f"{mark}{opt.label}（{inner}）")
            else:
                records.append(f"{mark}{opt.label}")
        conclusion = answer.conclusion if answer else ""
        choices = [("☑" if c == conclusion else "☐") + rules.CONCLUSION_LABELS[c] for c in item.conclusions]
        concl = " ".join(choices)
        # "choices": one block each, so a box never ends a line apart from its word (13.5).
        rows.append({"no": item.no, "text": item.text, "records": records, "conclusion": concl, "choices": choices,
                     "remark": answer.remark if answer else ""})
    return rows


def render_inspection_pdf(inspection, public_url: str) -> bytes:
    """The sealed (or draft) record of one inspection."""
    from ..extensions import db
    from .models import Blob
    from .services import counted_signatures

    def blob_uri(blob_id):
        blob = db.session.get(Blob, blob_id) if blob_id else None
        return _data_uri(blob.data, blob.content_type) if blob else None

    signatures = [{"name": s.officer.name, "cert": s.cert_no, "image": blob_uri(s.blob_id),
                   "shown": s.certificate_shown} for s in counted_signatures(inspection)]
    refusal_officers = attesting_officers(inspection) if inspection.refused else ""
    html = render_template(
        "pdf/inspection.html", inspection=inspection, task=inspection.task, items=_item_rows(inspection),
        rules=rules, signatures=signatures, enterprise_signature=blob_uri(inspection.enterprise_signature_id),
        font_url=FONT_FILE.as_uri(), public_url=public_url,
        qr=qr_data_uri(public_url) if public_url else None, blank=False, refusal_officers=refusal_officers)
    return _html_to_pdf(html)


def attesting_officers(inspection) -> str:
    """The officers who attested a refusal to sign, by name with the certificate number
    (the record stores the certificate numbers)."""
    import json

    from sqlalchemy import select

    from ..extensions import db
    from ..registry.models import Officer

    try:
        certs = [str(c) for c in json.loads(inspection.refusal_attested_by or "[]")]
    except ValueError:
        certs = []
    names = dict(db.session.execute(select(Officer.cert_no, Officer.name).where(Officer.cert_no.in_(certs))).all()) \
        if certs else {}
    return "、".join(f"{names[c]}（执法证 {c}）" if c in names else c for c in certs)


def render_blank_pdf() -> bytes:
    html = render_template("pdf/inspection.html", inspection=None, task=None, items=_item_rows(None), rules=rules,
                           signatures=[], enterprise_signature=None, font_url=FONT_FILE.as_uri(),
                           public_url="", qr=None, blank=True)
    return _html_to_pdf(html)
