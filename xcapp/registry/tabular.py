"""Reading and writing registry tables (.xlsx / .csv) for all-or-nothing imports.

Pure Python (openpyxl and the standard library): no Flask, no database.

Reading
=======
:func:`read_table` turns the uploaded bytes into a :class:`Table`, or raises
:class:`TableError` for problems that concern the whole file (type, size,
encoding, damaged workbook, no data). Problems in single cells do not raise;
they are collected in ``Table.problems`` as :class:`CellProblem`
``(row, column, message)`` so an import service can show every one of them as
(行, 列, 中文说明) and write nothing while the list is not empty.

* A workbook is read by :mod:`xcapp.registry.xlsx_reader`, streaming, with budgets
  of rows (empty ones included), cells, shared strings and characters derived from
  ``max_rows`` (:func:`xlsx_budget`); a file over a budget is refused as soon as the
  reader passes it, with a Chinese message (issue 11.4). CSV rows, empty lines
  included, have the same row budget.
* Only the first worksheet of a workbook is read. The header is the first
  non-empty row; completely empty rows are skipped; ``row_numbers`` are the row
  numbers the user sees in Excel (for CSV: the line on which the record starts).
* Cell values: strings are stripped (also U+3000, NBSP, zero-width characters,
  and the tab that some Chinese systems put in front of long numbers so that
  Excel keeps them as text); empty → ``None``; Excel dates → ``datetime.date``;
  integral Excel numbers → ``str(int)`` (so codes and phones get no ``.0``);
  other numbers → ``str``. Full-width characters are kept: the field
  validators normalise them.
* Formulas are never evaluated: a formula cell shows as its formula text and
  becomes a cell problem. In
  either format a string that starts with ``=`` ``+`` ``-`` ``@`` (after
  stripping) is also a problem: it would run as a formula when the data is
  exported and opened in a spreadsheet (CSV injection: ``=HYPERLINK(...)``,
  ``=cmd|' /C calc'!A0``, ``@SUM(...)``). The raw text is kept in ``rows`` so it
  can be shown, but the caller must not import a table with problems. Dates
  such as ``2023-07-04`` start with a digit and are not affected. A leading tab
  or CR is whitespace and is simply stripped.
* An exported value neutralised with a leading apostrophe (see Writing) is read
  back without it: a single ``'`` is removed when what follows, after any
  further apostrophes, is one of ``= + - @ TAB CR``. Such a value is literal
  text on purpose and is not a problem. This makes export → import round-trip.
* Excel numbers with 16 or more digits (an 18-digit 统一社会信用代码 typed into a
  number-formatted cell) have already lost digits in Excel: a cell problem.

Headers
=======
:func:`map_headers` matches the header cells against :class:`Column`
definitions. A header is normalised (full-width → half-width, surrounding
whitespace and ``*`` required-markers removed) and compared, ignoring case,
spaces, ``_`` and ``-``, with the column's Chinese header and its aliases. The
aliases include English names (``name``, ``uscc``, ``licence_no`` /
``license_no`` …), so a table produced by a script or an English export is
accepted. Strictness, because an import is all or nothing: missing required
columns, unknown columns (``未知列：XXX``), duplicated columns and empty header
cells above data are all errors, reported together in one :class:`TableError`
(``details`` holds them one by one).

Writing
=======
:func:`write_csv` (UTF-8 with BOM so that Excel on Windows opens it, CRLF line
ends) and :func:`write_xlsx`. Formula-injection neutralisation for both: every
value whose text starts with ``= + - @ TAB CR`` (also after leading
apostrophes, so that the round trip stays exact) is written with one extra
leading apostrophe ``'``; a spreadsheet then shows it as text. In .xlsx the
apostrophe is part of the stored text (visible in Excel), and text cells get the
text number format ``@`` so that codes typed over them stay text.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import zipfile
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple, Sequence

from ..core.text import INJECTION_CHARS, neutralize, normalize_text
from .validation import FORMULA_CHARS, formula_message

__all__ = [
    "TableError",
    "CellProblem",
    "Table",
    "Column",
    "Record",
    "MAX_BYTES",
    "MAX_ROWS",
    "read_table",
    "cell_problems",
    "map_headers",
    "records",
    "write_csv",
    "write_xlsx",
]

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 200
#: Decompressed size above which a workbook is refused (zip bomb guard).
MAX_XLSX_UNCOMPRESSED = 200 * 1024 * 1024
#: Reading budgets (issue 11.4): rows of any kind (empty ones included) beyond the
#: data rows allowed, cells per row on average, shared strings, characters of text.
#: A file over any of them is refused as soon as the reader passes it.
EMPTY_ROWS_ALLOWED = 10_000
CELLS_PER_ROW = 30
MAX_SHARED_STRINGS = 1_000_000
MAX_TEXT_CHARS = 40_000_000

_FORMULA_CHARS = FORMULA_CHARS
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


class TableError(Exception):
    """The file as a whole cannot be imported; ``message`` is Chinese.

    ``details`` lists the individual reasons when there are several
    (e.g. missing and unknown columns at once).
    """

    def __init__(self, message: str, details: Sequence[str] | None = None, unknown: Sequence[str] = ()):
        super().__init__(message)
        self.message = message
        self.details = list(details) if details else [message]
        #: the unknown headers as written (the import's mapping step offers to map them)
        self.unknown = list(unknown)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class CellProblem(NamedTuple):
    """One problem in one cell: ``row`` as seen in Excel / the CSV line, ``column`` = header text."""

    row: int
    column: str
    message: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[object]]          # str | datetime.date | None, padded to len(headers)
    row_numbers: list[int]            # same length as rows
    problems: list[CellProblem] = field(default_factory=list)
    source_format: str = ""           # "xlsx" or "csv"
    # (row, header) of the problems that are only "text starting like a formula": a
    # caller that validates every field with the same rule (the registry import) may
    # leave these to its field rules, so the form and the import agree (issue 11.15).
    formula_text: set = field(default_factory=set)


@dataclass(frozen=True)
class Column:
    """A column an import expects.

    ``key``: the field name used by the code; ``header``: the Chinese header
    written in templates and exports; ``aliases``: other accepted headers
    (English names, older Chinese names); ``required``: must be present.
    """

    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False


class Record(NamedTuple):
    row: int
    values: dict


# ---------------------------------------------------------------------------
# Cell helpers
# ---------------------------------------------------------------------------

def _clean_str(value: str) -> str | None:
    # str.strip() removes all Unicode whitespace (incl. U+3000, NBSP); the
    # zero-width characters are not whitespace, so strip them explicitly.
    value = value.strip().strip(_INVISIBLE).strip()
    return value or None


def _unquote(value: str) -> tuple[str, bool]:
    """Remove the export apostrophe. Returns (value, was_quoted)."""
    if value.startswith("'"):
        rest = value.lstrip("'")
        if rest and rest[0] in INJECTION_CHARS:
            return value[1:], True
    return value, False


def _formula_problem(value: str) -> str:
    return formula_message(value)


def _text_cell(raw: str) -> tuple[str | None, str | None]:
    """Clean a string cell. Returns (value, problem_message)."""
    value = _clean_str(raw)
    if value is None:
        return None, None
    value, quoted = _unquote(value)
    if quoted:
        # "'\tabc" -> "abc": whitespace is stripped on import either way.
        return _clean_str(value), None
    if value.startswith(_FORMULA_CHARS):
        return value, _formula_problem(value)
    return value, None


def _column_label(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"第{index + 1}列（{get_column_letter(index + 1)}列）"


# ---------------------------------------------------------------------------
# read_table
# ---------------------------------------------------------------------------

def _mb(n: int) -> str:
    v = n / (1024 * 1024)
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


def read_table(
    data: bytes,
    filename: str,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> Table:
    """Read an uploaded .xlsx or .csv file. Raises :class:`TableError`."""
    name = (filename or "").strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in ("xls", "et"):
        raise TableError("不支持旧版 Excel (.xls) 文件：请在 Excel 或 WPS 中“另存为” .xlsx 格式后再上传")
    if ext in ("xlsm", "xltx", "xltm", "xlsb", "ods", "numbers"):
        raise TableError(f"不支持 .{ext} 文件：请“另存为” Excel 工作簿 (.xlsx) 或 CSV 后再上传")
    if ext not in ("xlsx", "csv"):
        shown = f"“.{ext}”" if ext else "（无扩展名）"
        raise TableError(f"不支持的文件类型{shown}：请上传 Excel (.xlsx) 或 CSV (.csv) 文件")
    if data is None or len(data) == 0:
        raise TableError("文件为空")
    if len(data) > max_bytes:
        raise TableError(f"文件超过 {_mb(max_bytes)} MB（当前 {_mb(len(data))} MB），请拆分后分批导入")

    if ext == "xlsx":
        raw_rows = _xlsx_rows(data, max_rows)
        fmt = "xlsx"
    else:
        raw_rows = _csv_rows(data)
        fmt = "csv"
    return _build_table(raw_rows, fmt, max_rows)


def _xlsx_rows(data: bytes, max_rows: int = MAX_ROWS):
    """Yield (row_number, [(value, problem_message|None), ...]) from the first sheet."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise TableError(
            "文件不是有效的 Excel (.xlsx) 文件：它是旧版 .xls 格式或设置了打开密码，"
            "请取消密码并“另存为” .xlsx 后再上传"
        )
    if not data.startswith(b"PK"):
        raise TableError("文件不是有效的 Excel (.xlsx) 文件")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = sum(i.file_size for i in zf.infolist())
            names = set(zf.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise TableError("文件不是有效的 Excel (.xlsx) 文件") from None
    if "xl/workbook.xml" not in names and "[Content_Types].xml" not in names:
        raise TableError("文件不是有效的 Excel (.xlsx) 文件")
    if total > MAX_XLSX_UNCOMPRESSED:
        raise TableError("Excel 文件解压后过大，无法导入：请只保留需要导入的数据")

    from .xlsx_reader import XlsxBudgetExceeded, XlsxDamaged, iter_rows

    budget = xlsx_budget(max_rows)

    def generate():
        try:
            for row_number, cells in iter_rows(data, budget):
                yield row_number, [_xlsx_cell(c) for c in cells]
        except XlsxBudgetExceeded as exc:
            raise TableError(exc.message) from None
        except XlsxDamaged:
            raise TableError("文件不是有效的 Excel (.xlsx) 文件：工作表内容已损坏或不是 Excel 工作簿") from None

    return generate()


def xlsx_budget(max_rows: int):
    """Reading budgets of a workbook that may hold ``max_rows`` data rows (see xlsx_reader)."""
    from .xlsx_reader import Budget

    rows = max_rows + 1 + EMPTY_ROWS_ALLOWED
    cells = rows * CELLS_PER_ROW
    return Budget(max_rows=rows, max_cells=cells, max_shared_strings=min(cells, MAX_SHARED_STRINGS),
                  max_text_chars=MAX_TEXT_CHARS, max_columns=MAX_COLUMNS + 1)


def _xlsx_cell(cell) -> tuple[object, str | None]:
    value = getattr(cell, "value", None)
    dtype = getattr(cell, "data_type", None)
    if value is None:
        return None, None
    if dtype == "f" or (not isinstance(value, (str, int, float, bool, _dt.date, _dt.time, _dt.timedelta))):
        text = value if isinstance(value, str) else getattr(value, "text", None) or str(value)
        text = str(text)
        shown = text if len(text) <= 30 else text[:30] + "…"
        return text, f"单元格是公式“{shown}”，出于安全原因不予导入；请改为直接填写数值（可复制后“选择性粘贴→数值”）"
    if dtype == "e":
        return str(value), f"单元格是错误值 {value}，请改为正确内容"
    if isinstance(value, str):
        return _text_cell(value)
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    if isinstance(value, _dt.datetime):
        return value.date(), None
    if isinstance(value, _dt.date):
        return value, None
    if isinstance(value, _dt.time):
        return value.isoformat(), None
    if isinstance(value, _dt.timedelta):
        return str(value), None
    if isinstance(value, int):
        return str(value), None
    # float
    if not math.isfinite(value):
        return str(value), "数值无效"
    if value.is_integer():
        if abs(value) >= 1e15:
            return str(int(value)), (
                "数字超过15位，Excel 已丢失末尾几位数字；请把该列设为“文本”格式后重新输入"
            )
        return str(int(value)), None
    return repr(value), None


def _decode_csv(data: bytes) -> str:
    msg = "文件编码无法识别：请使用 UTF-8 或 GB18030 编码保存"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableError("文件是 UTF-16 编码（Excel“Unicode 文本”）：请“另存为” CSV UTF-8 (逗号分隔) 后再上传")
    if data.startswith(b"PK\x03\x04"):
        raise TableError("文件内容是 Excel 工作簿而不是 CSV：请把扩展名改为 .xlsx 或另存为 CSV")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError("文件内容是旧版 Excel (.xls) 工作簿而不是 CSV：请“另存为” CSV UTF-8 后再上传")
    if b"\x00" in data:
        raise TableError("文件含有二进制内容，不是文本 CSV 文件")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError:
            raise TableError(msg + "（文件中混有不同编码的内容）") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise TableError(msg) from None
    # GB18030 maps almost every byte sequence, so a file with some lines in
    # UTF-8 and others in GB18030 decodes "successfully" into mojibake. The
    # tell: a line that is also valid UTF-8 and reads as more common Chinese
    # characters in UTF-8 than in GB18030 (UTF-8 bytes read as GB18030 give
    # rare characters; a GB18030 line that happens to be valid UTF-8 gives rare
    # or non-Chinese characters).
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if max(line, default=0) < 0x80:
            continue
        try:
            as_utf8 = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _common_hanzi(as_utf8) > _common_hanzi(line.decode("gb18030")):
            raise TableError(msg + f"（文件中混有不同编码的内容，例如第{lineno}行）")
    return text


_LEVEL1: frozenset | None = None


def _common_hanzi(text: str) -> int:
    """How many characters of ``text`` are among the 3755 common hanzi (GB 2312 level 1)."""
    global _LEVEL1
    if _LEVEL1 is None:
        _LEVEL1 = frozenset(
            bytes((hi, lo)).decode("gb2312", "ignore")
            for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)
        ) - {""}
    return sum(1 for ch in text if ch in _LEVEL1)


def _csv_rows(data: bytes):
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        if "\t" in first_line:
            delimiter = "\t"
        elif ";" in first_line:
            delimiter = ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    def generate():
        start = 1
        try:
            for record in reader:
                yield start, [_text_cell(v) for v in record]
                start = reader.line_num + 1
        except csv.Error as exc:
            raise TableError(f"CSV 格式错误（第{reader.line_num}行附近）：请检查引号是否成对（{exc}）") from None

    return generate()


def _build_table(raw_rows: Iterable, fmt: str, max_rows: int) -> Table:
    header_cells = None
    data: list[tuple[int, list]] = []
    seen = 0
    row_budget = max_rows + 1 + EMPTY_ROWS_ALLOWED
    for row_number, cells in raw_rows:
        seen += 1
        if seen > row_budget:
            raise TableError(f"文件超过 {row_budget:,} 行（含空行），请删除多余的空行或拆分后分批导入")
        if all(v is None for v, _ in cells):
            continue
        if header_cells is None:
            header_cells = cells
            continue
        if len(data) >= max_rows:
            raise TableError(f"数据超过 {max_rows} 行，请拆分后分批导入")
        data.append((row_number, cells))

    if header_cells is None:
        raise TableError("文件为空：没有表头和数据")

    # Header texts: normalised; trailing empty header cells dropped.
    headers = [normalize_text(v if isinstance(v, str) else ("" if v is None else str(v)))
               for v, _ in header_cells]
    while headers and not headers[-1]:
        headers.pop()
    if len(headers) > MAX_COLUMNS:
        raise TableError(f"列数超过 {MAX_COLUMNS} 列，请只保留需要导入的列")
    width = len(headers)

    if not data:
        raise TableError("文件只有表头，没有数据行")

    # Empty header cells in the middle: drop the column if it holds no data,
    # otherwise the file is ambiguous.
    keep = list(range(width))
    empty_with_data = []
    for i, h in enumerate(headers):
        if h:
            continue
        if any(i < len(cells) and cells[i][0] is not None for _, cells in data):
            empty_with_data.append(_column_label(i))
        keep.remove(i)
    if empty_with_data:
        raise TableError(
            "表头为空的列中有数据：" + "、".join(empty_with_data) + "。请填写表头或删除该列",
            details=[f"{c}表头为空，但该列有数据" for c in empty_with_data],
        )

    table = Table(headers=[headers[i] for i in keep], rows=[], row_numbers=[], source_format=fmt)
    for row_number, cells in data:
        row = []
        for i in keep:
            value, problem = cells[i] if i < len(cells) else (None, None)
            row.append(value)
            if problem:
                table.problems.append(CellProblem(row_number, headers[i], problem))
                if isinstance(value, str) and value.startswith(_FORMULA_CHARS) \
                        and problem == _formula_problem(value):
                    table.formula_text.add((row_number, headers[i]))
        for j in range(width, len(cells)):
            if cells[j][0] is not None:
                table.problems.append(
                    CellProblem(row_number, _column_label(j), "该单元格所在的列没有表头；请删除多余内容或补上表头")
                )
        table.rows.append(row)
        table.row_numbers.append(row_number)
    return table


def cell_problems(table: Table) -> list[CellProblem]:
    """All per-cell problems found while reading, in file order: (行, 列, 说明)."""
    return list(table.problems)


# ---------------------------------------------------------------------------
# Header mapping
# ---------------------------------------------------------------------------

def _header_key(text: str) -> str:
    t = normalize_text(text).strip("*").strip()
    for ch in (" ", "_", "-", "\t", "\u3000"):
        t = t.replace(ch, "")
    return t.casefold()


def _lookup(columns: Sequence[Column]) -> dict[str, Column]:
    lookup: dict[str, Column] = {}
    for col in columns:
        for name in (col.header, col.key, *col.aliases):
            k = _header_key(name)
            if not k:
                continue
            other = lookup.get(k)
            if other is not None and other.key != col.key:
                raise ValueError(f"column alias {name!r} used by both {other.key!r} and {col.key!r}")
            lookup[k] = col
    return lookup


def known_keys(headers: Sequence[str], columns: Sequence[Column]) -> set[str]:
    """The column keys that the headers name (by header or alias); never raises."""
    lookup = _lookup(columns)
    return {lookup[_header_key(h)].key for h in headers if _header_key(h) in lookup}


def header_text(text) -> str:
    """A header cell as shown and as the key of a user's column mapping."""
    return normalize_text(text)


def map_headers(headers: Sequence[str], columns: Sequence[Column], chosen: dict[str, str] | None = None,
                ignore: Sequence[str] = ()) -> dict[str, int]:
    """Map column keys to positions in ``headers``; raise :class:`TableError` listing every header problem.

    Optional columns that are absent are simply missing from the result. ``chosen`` is
    the user's mapping of headers this function does not know ({header_text: column key,
    or "" to ignore the column}); headers matching ``ignore`` are skipped.
    """
    chosen = chosen or {}
    ignored = {_header_key(name) for name in ignore}
    by_key = {col.key: col for col in columns}
    lookup = _lookup(columns)

    mapping: dict[str, int] = {}
    positions: dict[str, list[int]] = {}
    unknown: list[str] = []
    empty: list[str] = []
    for i, h in enumerate(headers):
        k = _header_key(h)
        if not k:
            empty.append(_column_label(i))
            continue
        col = lookup.get(k)
        if col is None and header_text(h) in chosen:
            target = chosen[header_text(h)]
            if not target:
                continue
            col = by_key.get(target)
        if col is None and k in ignored:
            continue
        if col is None:
            unknown.append(normalize_text(h))
            continue
        positions.setdefault(col.key, []).append(i)
        mapping.setdefault(col.key, i)

    details: list[str] = []
    missing = [c.header for c in columns if c.required and c.key not in mapping]
    if missing:
        details.append("缺少必填列：" + "、".join(missing))
    if unknown:
        details.append("未知列：" + "、".join(unknown))
    for col in columns:
        pos = positions.get(col.key, [])
        if len(pos) > 1:
            where = "、".join(f"第{p + 1}列“{normalize_text(headers[p])}”" for p in pos)
            details.append(f"重复的列：{col.header}（{where}）")
    if empty:
        details.append("表头为空：" + "、".join(empty))
    if details:
        expected = "、".join(c.header for c in columns)
        raise TableError(
            "表头有误：" + "；".join(details) + f"。可用的列：{expected}", details=details, unknown=unknown
        )
    return mapping


def records(table: Table, columns: Sequence[Column], chosen: dict[str, str] | None = None,
            ignore: Sequence[str] = ()) -> list[Record]:
    """Map headers and return one :class:`Record` ``(row, {key: value})`` per data row.

    Every column key is present in ``values``; absent optional columns give ``None``.
    """
    mapping = map_headers(table.headers, columns, chosen, ignore)
    out = []
    for row_number, row in zip(table.row_numbers, table.rows):
        values = {c.key: (row[mapping[c.key]] if c.key in mapping else None) for c in columns}
        out.append(Record(row_number, values))
    return out


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

def _to_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV in UTF-8 with BOM and CRLF line ends; every value neutralised against formula injection."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralize(_to_text(h)) for h in headers])
    for row in rows:
        writer.writerow([neutralize(_to_text(v)) for v in row])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def write_xlsx(headers: Sequence[str], rows: Iterable[Sequence[object]], sheet_title: str = "Sheet1") -> bytes:
    """A one-sheet .xlsx; strings neutralised like :func:`write_csv`, dates as real date cells."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet_title[:31] or "Sheet1")
    for i, h in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(str(h)) * 2 + 4))
    bold = Font(bold=True)

    def cell(value, header=False):
        if isinstance(value, _dt.datetime):
            value = value.date()
        if isinstance(value, _dt.date):
            c = WriteOnlyCell(ws, value=value)
            c.number_format = "yyyy-mm-dd"
            return c
        text = ILLEGAL_CHARACTERS_RE.sub("", neutralize(_to_text(value)))
        c = WriteOnlyCell(ws, value=text if text != "" else None)
        c.number_format = "@"
        if header:
            c.font = bold
        return c

    ws.append([cell(h, header=True) for h in headers])
    for row in rows:
        ws.append([cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
