"""The embedded PDF font prints the symbols the forms use (issue 13.5): each one is in the
font's cmap and comes back out of a rendered PDF by text extraction (no ☒ or blank)."""
import io

from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont

from xcapp.inspections.pdf import FONT_FILE, _html_to_pdf

SYMBOLS = ["²", "³", "℃", "㎡", "㎥", "‰", "±", "×", "÷", "≤", "≥", "Φ", "φ", "μ", "Ω", "µ",
           *(chr(c) for c in range(0x2460, 0x2474)),       # ① … ⑳
           *(chr(c) for c in range(0x2160, 0x216C))]       # Ⅰ … Ⅻ
FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["￠", "￡", "￢", "￣", "￤", "￥"]
FORM_MARKS = ["☐", "☑", "☒", "✓", "✔", "≒"]


def _cmap() -> set[int]:
    font = TTFont("XcappSerifSC-Regular", str(FONT_FILE))
    return set(font.face.charToGlyph)


def test_every_symbol_and_full_width_form_is_in_the_font():
    cmap = _cmap()
    missing = [s for s in SYMBOLS + FULL_WIDTH + FORM_MARKS if ord(s) not in cmap]
    assert not missing, "not in the font: " + " ".join(missing)


def test_symbols_survive_rendering_and_text_extraction():
    lines = ["立式储罐 200m³ 面积 12㎡ 温度 25℃ 含水≤0.5‰ 偏差±2% 2×3÷6 ≥1 Φ32 φ8 5μm 10Ω 2µs 3²",
             "".join(SYMBOLS), "".join(FULL_WIDTH[:47]), "".join(FULL_WIDTH[47:])]
    body = "".join(f"<div>{line}</div>" for line in lines)
    html = (f'<html><head><meta charset="utf-8"><style>@font-face {{ font-family: XcappSerifSC; '
            f'src: url("{FONT_FILE.as_uri()}"); }} body, div {{ font-family: XcappSerifSC; }}</style></head>'
            f"<body>{body}</body></html>")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(_html_to_pdf(html))).pages)
    flat = text.replace("\n", "").replace(" ", "")
    assert "200m³" in flat and "☒" not in flat
    lost = [s for s in SYMBOLS + FULL_WIDTH if s not in flat]
    assert not lost, "lost in the PDF: " + " ".join(lost)
