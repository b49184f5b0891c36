"""A bounded, streaming reader of the first worksheet of an .xlsx workbook.

Pure Python (the standard library's zipfile and expat; openpyxl only for its
date-format and serial-date helpers): no Flask, no database.

Why not openpyxl's own reader: even in read-only mode it loads the whole
shared-strings table into memory before the first row, and it builds every row
element (all of its cells) as a tree before handing it over, and it fills row
gaps with empty rows. A 0.5 MB upload can therefore hold a table of 10 million
shared strings, a sheet of 1.9 million (empty) rows, or a single row of millions
of cells, all well under the decompressed-size limit, and parsing it outlives
the worker (issue 11.4).

This reader feeds the decompressed parts to expat in small chunks and counts
as it goes, so a file over any budget is refused as soon as the budget is
passed, in bounded time and memory:

* ``max_rows``: ``<row>`` elements of the sheet, empty ones included (gaps
  between row numbers cost nothing: they are never materialised);
* ``max_cells``: ``<c>`` elements of the sheet, empty ones included;
* ``max_shared_strings``: ``<si>`` entries of the shared-strings table;
* ``max_text_chars``: characters of shared strings, inline strings, values
  and formulas, summed over the file (what the strings cost in memory);
* ``max_cell_chars``: characters of one cell (Excel's own limit is 32,767);
* ``max_style_formats``: cell formats (``<xf>``) in the styles part.

A budget overrun raises :class:`XlsxBudgetExceeded` (its ``message`` is Chinese
and names the budget); a damaged or non-conforming workbook raises
:class:`XlsxDamaged`. Document type declarations (entity expansion) are refused.

Rows are yielded as ``(row_number, [Cell, ...])`` where ``Cell`` has ``value``
and ``data_type`` like an openpyxl cell in read-only mode with ``data_only=False``
(``'n'`` numbers as int/float, ``'s'`` text, ``'b'`` bool, ``'d'`` date/time,
``'e'`` error text, ``'f'`` formula text starting with ``=``), so the caller's
cell conversion is the same as before.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import Iterator, NamedTuple
from xml.parsers import expat

CHUNK = 64 * 1024
EXCEL_MAX_ROW = 1_048_576
EXCEL_MAX_COLUMN = 16_384


class XlsxDamaged(Exception):
    """The workbook cannot be read (damaged, not a worksheet, DTD)."""


class XlsxBudgetExceeded(Exception):
    """The workbook is over one of the reading budgets; ``message`` is Chinese."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Budget:
    max_rows: int = 60_000
    max_cells: int = 1_500_000
    max_shared_strings: int = 1_000_000
    max_text_chars: int = 40_000_000
    max_cell_chars: int = 32_767
    max_style_formats: int = 65_000
    max_columns: int = 201          # cells right of this column are counted but not returned


class Cell(NamedTuple):
    value: object
    data_type: str


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1].rsplit(" ", 1)[-1]


def _refuse_dtd(*_args):
    raise XlsxDamaged("document type declarations are not allowed")


def _parser() -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    return parser


def _feed(zf: zipfile.ZipFile, name: str, parser, after_chunk=None):
    """Feed one zip member to ``parser`` in chunks; ``after_chunk()`` may yield rows."""
    try:
        with zf.open(name) as fh:
            while True:
                chunk = fh.read(CHUNK)
                parser.Parse(chunk, not chunk)
                if after_chunk is not None:
                    yield from after_chunk()
                if not chunk:
                    break
    except (XlsxBudgetExceeded, XlsxDamaged):
        raise
    except (expat.ExpatError, zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError,
            RuntimeError, NotImplementedError):
        raise XlsxDamaged(name) from None


def _precount(zf: zipfile.ZipFile, name: str, limits: list[tuple[bytes, int, str]]) -> None:
    """Count start tags (``limits``: tag, most allowed, message) at C speed (zlib and
    bytes.count) in one pass and refuse the part as soon as one count is over its
    limit, before any element is parsed."""
    kinds = [([p + tag + end for p in (b"<", b":") for end in (b">", b" ", b"/")], limit, message)
             for tag, limit, message in limits]
    overlap = max(len(tag) for tag, _l, _m in limits) + 1
    seen = [0] * len(kinds)
    tail = b""
    try:
        with zf.open(name) as fh:
            while True:
                chunk = fh.read(1024 * 1024)
                if not chunk:
                    return
                window = tail + chunk
                for i, (patterns, limit, message) in enumerate(kinds):
                    seen[i] += sum(window.count(p) - tail.count(p) for p in patterns)
                    if seen[i] > limit:
                        raise XlsxBudgetExceeded(message)
                tail = window[-overlap:]
    except XlsxBudgetExceeded:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError):
        raise XlsxDamaged(name) from None


def _drain(gen) -> None:
    for _ in gen:
        pass


def _member_text(zf: zipfile.ZipFile, name: str, limit: int = 4 * 1024 * 1024) -> list[tuple[str, dict]]:
    """Start elements (local name, attributes) of a small part such as workbook.xml."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise XlsxBudgetExceeded(f"Excel 文件的“{name}”部分过大，无法导入")
    elements: list[tuple[str, dict]] = []
    parser = _parser()

    def start(tag, attrs):
        if len(elements) > 100_000:
            raise XlsxBudgetExceeded(f"Excel 文件的“{name}”部分过大，无法导入")
        elements.append((_local(tag), {_local(k): v for k, v in attrs.items()}))

    parser.StartElementHandler = start
    _drain(_feed(zf, name, parser))
    return elements


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


class _Workbook(NamedTuple):
    sheet: str
    shared_strings: str | None
    styles: str | None
    epoch_1904: bool


def _locate(zf: zipfile.ZipFile, names: set[str]) -> _Workbook:
    if "xl/workbook.xml" not in names:
        raise XlsxDamaged("no xl/workbook.xml")
    workbook = _member_text(zf, "xl/workbook.xml")
    first_sheet_rid = None
    epoch_1904 = False
    for tag, attrs in workbook:
        if tag == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
            epoch_1904 = True
        if tag == "sheet" and first_sheet_rid is None:
            first_sheet_rid = attrs.get("id")
    rels = {}
    shared = styles = None
    if "xl/_rels/workbook.xml.rels" in names:
        for tag, attrs in _member_text(zf, "xl/_rels/workbook.xml.rels"):
            if tag != "Relationship" or "Target" not in attrs:
                continue
            target = _resolve("xl", attrs["Target"])
            rels[attrs.get("Id")] = target
            kind = attrs.get("Type", "")
            if kind.endswith("/sharedStrings"):
                shared = target
            elif kind.endswith("/styles"):
                styles = target
    sheet = rels.get(first_sheet_rid) if first_sheet_rid else None
    if sheet is None:
        sheet = "xl/worksheets/sheet1.xml"
    if sheet not in names:
        raise XlsxDamaged("no worksheet")
    if shared is None and "xl/sharedStrings.xml" in names:
        shared = "xl/sharedStrings.xml"
    if styles is None and "xl/styles.xml" in names:
        styles = "xl/styles.xml"
    return _Workbook(sheet, shared if shared in names else None, styles if styles in names else None, epoch_1904)


class _Counter:
    def __init__(self, budget: Budget):
        self.budget = budget
        self.text_chars = 0

    def add_text(self, n: int) -> None:
        self.text_chars += n
        if self.text_chars > self.budget.max_text_chars:
            raise XlsxBudgetExceeded(
                f"Excel 文件中的文字超过 {self.budget.max_text_chars:,} 个字符，无法导入：请只保留需要导入的数据")


def _date_styles(zf: zipfile.ZipFile, name: str | None, budget: Budget) -> tuple[set[int], set[int]]:
    """Indices of the cell formats that show dates (and of those that show durations)."""
    if name is None:
        return set(), set()
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

    custom: dict[int, str] = {}
    xf_formats: list[int] = []
    depth = {"cellXfs": 0}
    parser = _parser()

    def start(tag, attrs):
        tag = _local(tag)
        if tag == "numFmt":
            try:
                custom[int(attrs.get("numFmtId", "-1"))] = attrs.get("formatCode", "")
            except ValueError:
                pass
            if len(custom) > budget.max_style_formats:
                raise XlsxBudgetExceeded("Excel 文件中的单元格格式过多，无法导入：请“另存为”新文件后再上传")
        elif tag == "cellXfs":
            depth["cellXfs"] += 1
        elif tag == "xf" and depth["cellXfs"]:
            try:
                xf_formats.append(int(attrs.get("numFmtId", "0")))
            except ValueError:
                xf_formats.append(0)
            if len(xf_formats) > budget.max_style_formats:
                raise XlsxBudgetExceeded("Excel 文件中的单元格格式过多，无法导入：请“另存为”新文件后再上传")

    def end(tag):
        if _local(tag) == "cellXfs":
            depth["cellXfs"] -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    _drain(_feed(zf, name, parser))
    dates, durations = set(), set()
    for index, fmt_id in enumerate(xf_formats):
        code = custom.get(fmt_id, BUILTIN_FORMATS.get(fmt_id, ""))
        if 27 <= fmt_id <= 36 or 50 <= fmt_id <= 58:
            # East Asian built-in date formats (yyyy"年"m"月"d"日" and friends).
            dates.add(index)
        elif code and is_date_format(code):
            dates.add(index)
            if is_timedelta_format(code):
                durations.add(index)
    return dates, durations


def _shared_strings(zf: zipfile.ZipFile, name: str | None, budget: Budget, counter: _Counter) -> list[str]:
    if name is None:
        return []
    _precount(zf, name, [(b"si", budget.max_shared_strings,
                          f"Excel 文件的共享字符串超过 {budget.max_shared_strings:,} 条，无法导入：请只保留需要导入的数据")])
    strings: list[str] = []
    parts: list[str] = []
    local = _local_names()
    max_strings, max_cell_chars = budget.max_shared_strings, budget.max_cell_chars
    in_si = grab = False
    phonetic = length = 0

    def start(tag, _attrs):
        nonlocal in_si, grab, phonetic, length
        tag = local.get(tag) or local.add(tag)
        if tag == "si":
            if len(strings) >= max_strings:
                raise XlsxBudgetExceeded(
                    f"Excel 文件的共享字符串超过 {max_strings:,} 条，无法导入：请只保留需要导入的数据")
            in_si = True
            length = 0
            parts.clear()
        elif tag == "t":
            grab = in_si and not phonetic
        elif tag == "rPh":
            phonetic += 1

    def end(tag):
        nonlocal in_si, grab, phonetic
        tag = local.get(tag) or local.add(tag)
        if tag == "t":
            grab = False
        elif tag == "si":
            strings.append("".join(parts))
            in_si = False
        elif tag == "rPh":
            phonetic -= 1

    def text(data):
        nonlocal length
        if grab:
            length += len(data)
            if length > max_cell_chars:
                raise XlsxBudgetExceeded(f"Excel 文件中有超过 {max_cell_chars} 个字符的文字，无法导入")
            counter.add_text(len(data))
            parts.append(data)

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    _drain(_feed(zf, name, parser))
    return strings


_REF_RE = re.compile(r"([A-Za-z]{1,3})(\d+)$")


def _column_index(ref: str) -> int:
    """1-based column of a reference such as ``AB12``; 0 when unreadable."""
    m = _REF_RE.match(ref)
    if not m:
        return 0
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ord(ch) - 64)
    return col


def _number(text: str):
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


def iter_rows(data: bytes, budget: Budget = Budget()) -> Iterator[tuple[int, list[Cell]]]:
    """Yield the rows of the first worksheet; see the module docstring."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = set(zf.namelist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise XlsxDamaged("not a zip file") from None
    with zf:
        book = _locate(zf, names)
        counter = _Counter(budget)
        date_styles, duration_styles = _date_styles(zf, book.styles, budget)
        shared = _shared_strings(zf, book.shared_strings, budget, counter)
        yield from _sheet_rows(zf, book, shared, date_styles, duration_styles, budget, counter)


def _sheet_rows(zf, book: _Workbook, shared: list[str], date_styles: set[int], duration_styles: set[int],
                budget: Budget, counter: _Counter):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

    epoch = CALENDAR_MAC_1904 if book.epoch_1904 else CALENDAR_WINDOWS_1900
    _precount(zf, book.sheet, [
        (b"row", budget.max_rows, f"工作表超过 {budget.max_rows:,} 行（含空行），无法导入：请删除多余的行或拆分后分批导入"),
        (b"c", budget.max_cells,
         f"工作表超过 {budget.max_cells:,} 个单元格（含空单元格），无法导入：请只保留需要导入的行和列")])
    done: list[tuple[int, list[Cell]]] = []
    texts: list[str] = []
    local = _local_names()
    columns: dict[str, int] = {}
    max_rows, max_cells, max_columns = budget.max_rows, budget.max_cells, budget.max_columns
    max_cell_chars = budget.max_cell_chars
    empty = Cell(None, "n")
    # Parser state (closures below are the expat handlers; plain locals are fastest).
    rows = cells = row_number = col = style = length = phonetic = 0
    kind = "n"
    grab = False
    value = formula = inline = None
    current: list | None = None

    def start(tag, attrs):
        nonlocal rows, cells, row_number, col, style, kind, grab, value, formula, inline, current, length, phonetic
        tag = local.get(tag) or local.add(tag)
        if tag == "c":
            cells += 1
            if cells > max_cells:
                raise XlsxBudgetExceeded(
                    f"工作表超过 {max_cells:,} 个单元格（含空单元格），无法导入：请只保留需要导入的行和列")
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                index = columns.get(letters)
                if index is None:
                    index = _column_index(letters + "1")
                    if len(columns) < EXCEL_MAX_COLUMN:
                        columns[letters] = index
                col = index or col + 1
            else:
                col += 1
            if col > EXCEL_MAX_COLUMN:
                raise XlsxDamaged("bad column")
            kind = attrs.get("t", "n")
            s = attrs.get("s")
            if s:
                try:
                    style = int(s)
                except ValueError:
                    style = 0
            else:
                style = 0
            value = formula = inline = None
        elif tag == "v" or tag == "f":
            grab = True
            length = 0
            texts.clear()
        elif tag == "row":
            rows += 1
            if rows > max_rows:
                raise XlsxBudgetExceeded(
                    f"工作表超过 {max_rows:,} 行（含空行），无法导入：请删除多余的行或拆分后分批导入")
            r = attrs.get("r")
            if r is not None:
                try:
                    number = int(r)
                except ValueError:
                    raise XlsxDamaged("bad row number") from None
                if not (0 < number <= EXCEL_MAX_ROW):
                    raise XlsxDamaged("bad row number")
                row_number = number
            else:
                row_number += 1
            col = 0
            current = []
        elif tag == "is":
            inline = []
        elif tag == "rPh":
            phonetic += 1
        elif tag == "t" and inline is not None and not phonetic:
            grab = True
            length = 0
            texts.clear()

    def text(data):
        nonlocal length
        if grab:
            length += len(data)
            if length > max_cell_chars:
                raise XlsxBudgetExceeded(f"工作表中有超过 {max_cell_chars} 个字符的单元格，无法导入")
            counter.add_text(len(data))
            texts.append(data)

    def end(tag):
        nonlocal grab, value, formula, current, phonetic
        tag = local.get(tag) or local.add(tag)
        if tag == "v":
            value = "".join(texts)
            grab = False
        elif tag == "c":
            if current is None or col > max_columns:
                return
            cell = make_cell()
            if cell is None:
                return
            index = col - 1
            if len(current) <= index:
                current.extend([empty] * (index + 1 - len(current)))
            current[index] = cell
        elif tag == "row":
            done.append((row_number, current))
            current = None
        elif tag == "f":
            formula = "".join(texts)
            grab = False
        elif tag == "t" and grab:
            inline.append("".join(texts))
            grab = False
        elif tag == "rPh":
            phonetic -= 1

    def make_cell() -> Cell | None:
        if formula is not None:
            return Cell("=" + formula, "f")
        if kind == "inlineStr":
            return Cell("".join(inline), "s") if inline is not None else None
        if not value:
            return None
        try:
            if kind == "s":
                return Cell(shared[int(value)], "s")
            if kind == "n":
                number = _number(value)
            elif kind == "str":
                return Cell(value, "s")
            elif kind == "b":
                return Cell(bool(int(value)), "b")
            elif kind == "e":
                return Cell(value, "e")
            elif kind == "d":
                return Cell(from_ISO8601(value), "d")
            else:
                raise XlsxDamaged("bad cell type")
        except (IndexError, ValueError, TypeError):
            raise XlsxDamaged("bad cell value") from None
        if style in date_styles:
            try:
                return Cell(from_excel(number, epoch, timedelta=style in duration_styles), "d")
            except (OverflowError, ValueError):
                return Cell("#VALUE!", "e")
        return Cell(number, "n")

    def flush():
        if done:
            out = list(done)
            done.clear()
            yield from out

    parser = _parser()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    yield from _feed(zf, book.sheet, parser, flush)


class _local_names(dict):
    """Tag name -> local name (namespace prefix removed), memoised."""

    def add(self, tag: str) -> str:
        name = _local(tag)
        if len(self) < 1000:
            self[tag] = name
        return name
