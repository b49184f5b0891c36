"""A faithful 一企两表 PDF (issue 13.5), read back with pypdf: symbols of the equipment models,
the attesting officers' names on a refusal, the inspection date on both pages, boxes that stay
with their word, and room to write on the blank form."""
import io

import pytest
from pypdf import PdfReader

from tests.web.reports_data import TANK_MODEL, build
from xcapp.extensions import db
from xcapp.inspections import rules


@pytest.fixture
def data(app, make_enterprise, make_officer, make_user):
    return build(make_enterprise, make_officer, make_user)


def _pages(raw: bytes) -> list[str]:
    return [p.extract_text() for p in PdfReader(io.BytesIO(raw)).pages]


def test_refusal_names_the_officers_and_both_pages_carry_the_date(data, client, auth):
    task = data.weidu[2]                                  # the enterprise refused to sign
    inspection = data.inspections[task.code]
    assert inspection.refused
    auth.login_as(data.admin)
    pages = _pages(client.get(f"/inspections/{inspection.id}/pdf").data)
    text = "".join(pages).replace("\n", "")
    for place in task.active_officers:
        assert f"{place.officer.name}（执法证 {place.cert_no}）" in text
    assert '["' not in text and "[&quot;" not in text    # no raw JSON list of certificate numbers
    day = inspection.inspection_date
    stamp = f"检查日期：{day.year} 年 {day.month} 月 {day.day} 日"
    assert stamp in pages[0].replace("\n", "")
    equipment_page = next(p for p in pages if "关键生产设备表" in p)
    assert stamp in equipment_page.replace("\n", "")
    assert TANK_MODEL.replace(" ", "") in text.replace(" ", "") and "☒" not in text


def test_a_box_never_ends_a_line_apart_from_its_word(data, client, auth):
    inspection = data.inspections[data.weidu[0].code]
    auth.login_as(data.admin)
    raw = "".join(_pages(client.get(f"/inspections/{inspection.id}/pdf").data))
    with_na = sum(1 for item in rules.ITEMS.values() if item.allows_na)
    assert with_na and raw.count("不适用") >= with_na
    lines = raw.split("\n")
    # No line ends in a bare box, and every 不适用 follows its box on the same line.
    assert not [line for line in lines if line.rstrip().endswith(("☐", "☑"))]
    assert all(line[line.index("不适用") - 1] in "☐☑" for line in lines if "不适用" in line)


def _y(raw: bytes, label: str) -> list[tuple[int, float]]:
    """(page, baseline) of each text line that starts with ``label``; pypdf hands out
    fragments, so those on one baseline are joined first."""
    found = []
    for n, page in enumerate(PdfReader(io.BytesIO(raw)).pages):
        lines: dict[float, str] = {}

        def visit(text, cm, tm, _font, _size, lines=lines):
            if text:
                y = round(cm[5] + tm[5], 1)
                lines[y] = lines.get(y, "") + text.replace("\n", "")

        page.extract_text(visitor_text=visit)
        found += [(n, y) for y, text in lines.items() if text.lstrip().startswith(label)]
    return found


def test_blank_form_leaves_room_to_write(client, auth, make_user):
    auth.login_as(make_user("inspector", "411002"))
    raw = client.get("/inspections/blank.pdf").data
    text = "".join(_pages(raw))
    assert all(f"（{n}）" in text for n in (1, 2, 3, 4))          # four rows for item 12
    (p1, summary), = _y(raw, "现场检查")
    (p2, conclusion), = [y for y in _y(raw, "检查结论") if y[0] == p1][:1]
    assert p1 == p2 and summary - conclusion >= 70               # about six lines to write the problems
    (p3, team), = _y(raw, "检查组组员")[:1]
    (p4, day), = [y for y in _y(raw, "检查日期") if y[0] == p3][-1:]
    assert team - day >= 50                                      # room for two signatures
