"""Issue 11.4: small hostile workbooks are refused early, in bounded time and memory.

The files are written part by part with zipfile (no spreadsheet library), so each
test file is a few hundred KB and is built in about a second, yet it holds what
used to outlive a gunicorn worker: millions of (empty) rows, millions of shared
strings, millions of cells in one row. Each must be refused with a clear Chinese
message well inside the worker timeout (30 s); the bound asserted here is
generous on purpose (a loaded CI machine), the real figures are in bench/.
"""
import io
import time
import tracemalloc
import zipfile

import openpyxl
import pytest

from xcapp.registry.tabular import TableError, read_table

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SHEET_HEAD = f'<worksheet xmlns="{MAIN}"><sheetData>'
SHEET_TAIL = "</sheetData></worksheet>"
IMPORT_ROWS = 50_000          # what the registry import allows (importing.MAX_IMPORT_ROWS)
TIME_BOUND_S = 10.0           # far below gunicorn's 30 s worker timeout
MEMORY_BOUND = 64 * 1024 * 1024


def _base_parts() -> dict[str, bytes]:
    """Every part of a real workbook written by openpyxl, plus a shared-strings part."""
    book = openpyxl.Workbook()
    book.active.append(["x"])
    buf = io.BytesIO()
    book.save(buf)
    with zipfile.ZipFile(buf) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_TYPE}"/></Types>'.encode())
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="/xl/sharedStrings.xml" Id="rIdShared"/></Relationships>')
    return parts


def workbook(sheet_parts, shared_parts=(f'<sst xmlns="{MAIN}"/>',)) -> bytes:
    """A workbook openpyxl opens, whose sheet and shared strings are streamed from the given pieces."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, content in _base_parts().items():
            if name not in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
                zf.writestr(name, content)
        for name, parts in (("xl/sharedStrings.xml", shared_parts), ("xl/worksheets/sheet1.xml", sheet_parts)):
            with zf.open(name, "w") as fh:
                for part in parts:
                    fh.write(part.encode() if isinstance(part, str) else part)
    return buf.getvalue()


def repeated(piece: bytes, count: int, batch: int = 10_000):
    block = piece * batch
    for _ in range(count // batch):
        yield block
    yield piece * (count % batch)


HEADER_AND_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>企业名称</t></is></c></row>'
                  '<row r="2"><c r="A2" t="inlineStr"><is><t>许昌某公司</t></is></c></row>')


def refused(data: bytes) -> tuple[str, float, int]:
    """read_table as the import calls it; returns (message, seconds, peak traced bytes)."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TableError) as info:
            read_table(data, "hostile.xlsx", max_rows=IMPORT_ROWS)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return info.value.message, elapsed, peak


def test_hostile_files_are_small():
    # The point of the attack: every file below is far under the 5 MB upload limit.
    assert len(workbook([SHEET_HEAD, *repeated(b"<row/>", 1_900_000), SHEET_TAIL])) < 100 * 1024


def test_sheet_of_1_9_million_empty_rows_refused_early():
    data = workbook([SHEET_HEAD, HEADER_AND_ROW, *repeated(b"<row/>", 1_900_000), SHEET_TAIL])
    message, elapsed, peak = refused(data)
    assert "行" in message and "含空行" in message
    assert elapsed < TIME_BOUND_S and peak < MEMORY_BOUND


def test_rows_far_apart_cost_nothing_but_are_counted():
    # Row numbers with gaps are not materialised: a row at 1,048,576 is just one row.
    data = workbook([SHEET_HEAD, HEADER_AND_ROW,
                     '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>末行</t></is></c></row>', SHEET_TAIL])
    table = read_table(data, "gaps.xlsx", max_rows=IMPORT_ROWS)
    assert table.row_numbers == [2, 1048576] and table.rows == [["许昌某公司"], ["末行"]]


def test_millions_of_shared_strings_refused_before_loading_them():
    data = workbook([SHEET_HEAD, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', SHEET_TAIL],
                    [f'<sst xmlns="{MAIN}">', *repeated(b"<si><t>x</t></si>", 3_000_000), "</sst>"])
    assert len(data) < 512 * 1024
    message, elapsed, peak = refused(data)
    assert "共享字符串" in message
    assert elapsed < TIME_BOUND_S and peak < MEMORY_BOUND


def test_one_row_of_millions_of_cells_refused():
    cells = (f'<c r="{col}1"><v>1</v></c>'.encode() for col in ("A", "B"))
    data = workbook([SHEET_HEAD, "<row>", *cells, *repeated(b"<c/>", 3_000_000), "</row>", SHEET_TAIL])
    message, elapsed, peak = refused(data)
    assert "单元格" in message or "损坏" in message
    assert elapsed < TIME_BOUND_S and peak < MEMORY_BOUND


def test_many_cells_spread_over_allowed_rows_refused_by_the_cell_budget():
    row = b"<row>" + b"<c><v>1</v></c>" * 200 + b"</row>"
    data = workbook([SHEET_HEAD, *repeated(row, 20_000, batch=100), SHEET_TAIL])
    message, elapsed, peak = refused(data)
    assert "单元格" in message
    assert elapsed < TIME_BOUND_S and peak < MEMORY_BOUND


def test_huge_text_refused():
    big = b"<si><t>" + "许".encode() * 40_000 + b"</t></si>"
    data = workbook([SHEET_HEAD, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', SHEET_TAIL],
                    [f'<sst xmlns="{MAIN}">', big, "</sst>"])
    message, _elapsed, _peak = refused(data)
    assert "字符" in message


@pytest.mark.parametrize("part", ["sheet", "shared"])
def test_entity_declarations_refused(part):
    doctype = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaa">'
               '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    if part == "sheet":
        data = workbook([doctype + SHEET_HEAD.replace("<worksheet", "<worksheet", 1),
                         '<row><c t="inlineStr"><is><t>&b;</t></is></c></row>', SHEET_TAIL])
    else:
        data = workbook([SHEET_HEAD, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>', SHEET_TAIL],
                        [doctype + f'<sst xmlns="{MAIN}"><si><t>&b;</t></si></sst>'])
    message, _elapsed, _peak = refused(data)
    assert "Excel" in message


def test_csv_of_millions_of_empty_lines_refused():
    data = "企业名称\r\n".encode() + b"\r\n" * 2_000_000 + "许昌某公司\r\n".encode()
    with pytest.raises(TableError, match="含空行"):
        read_table(data, "blank.csv", max_rows=IMPORT_ROWS)


def test_legitimate_workbook_features_still_read():
    """Dates by style, 1904 epoch not needed, rich text, phonetic runs dropped, booleans, inline strings."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["名称", "日期", "是否"])
    ws.append(["许昌", openpyxl.utils.datetime.from_excel(45000).date(), True])
    buf = io.BytesIO()
    wb.save(buf)
    table = read_table(buf.getvalue(), "ok.xlsx")
    assert table.rows == [["许昌", openpyxl.utils.datetime.from_excel(45000).date(), "是"]]
    rich = workbook([SHEET_HEAD, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
                     '<row r="2"><c r="A2" t="s"><v>1</v></c></row>', SHEET_TAIL],
                    [f'<sst xmlns="{MAIN}"><si><t>名称</t></si>'
                     '<si><r><rPr><b/></rPr><t>许昌</t></r><r><t>某公司</t></r><rPh><t>ｷｮｼｮｳ</t></rPh></si></sst>'])
    assert read_table(rich, "rich.xlsx").rows == [["许昌某公司"]]
