"""Field validators for the registries (pure Python: no Flask, no database).

Every ``validate_*`` function takes what a user typed (form field, CSV or Excel
cell), normalises it and returns the canonical value, or raises
:class:`ValidationError` whose ``message`` is a Chinese sentence that can be
shown to the user as is.

Normalisation common to all of them (:func:`xcapp.core.text.normalize_text`): full-width ASCII
(``ＡＢＣ１２３－（）``) becomes half-width, CJK characters are kept, surrounding
whitespace is removed, including the ideographic space U+3000, NBSP and
zero-width characters. Names keep their inner spaces; codes lose all of them.

统一社会信用代码 (GB 32100-2015)
    18 characters from ``0-9 A-H J-N P-R T U W-Y``; the 18th is a check
    character over the first 17 with weights ``3**(i-1) mod 31`` and
    ``check = (31 - sum mod 31) mod 31``. The check character is computed here by
    hand rather than with ``stdnum.cn.uscc``: python-stdnum requires the first
    8 characters to be digits and so rejects legal codes whose 登记管理部门码 is a
    letter (A, N, Y). The unit tests cross-check this implementation against
    stdnum for codes that start with 8 digits. The embedded 9-character
    organisation code's own check digit is not verified (neither does stdnum).
    Old 15-digit 注册号 are rejected with a hint to use the 18-character code.

生产许可证编号
    ``LICENCE_NO_PATTERN`` is the single place that defines it:
    optional province abbreviation + ``XK`` + 2-digit category + ``-`` +
    3-digit product unit + ``-`` + 5-digit serial, e.g. ``豫XK13-014-00012``.
"""
from __future__ import annotations

import datetime as _dt
import math
import re

from ..core.text import normalize_code, normalize_text, unify_dashes

__all__ = [
    "ValidationError",
    "USCC_ALPHABET",
    "normalize_uscc",
    "uscc_check_char",
    "make_uscc",
    "validate_uscc",
    "PROVINCE_ABBREVIATIONS",
    "LICENCE_NO_PATTERN",
    "LICENCE_NO_EXAMPLE",
    "normalize_licence_no",
    "validate_licence_no",
    "normalize_phone",
    "validate_phone",
    "parse_date",
    "validate_validity",
    "FORMULA_CHARS",
    "formula_message",
    "refuse_formula",
    "is_formula",
]


class ValidationError(Exception):
    """A user-facing validation failure; ``message`` is in Chinese."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


_WS_RE = re.compile(r"\s+")


def _show(s: str, limit: int = 40) -> str:
    return s if len(s) <= limit else s[:limit] + "…"


# ---------------------------------------------------------------------------
# Text that a spreadsheet would run as a formula
# ---------------------------------------------------------------------------

#: A value stored as typed must not start with these: opened in a spreadsheet after an
#: export it could run as a formula (CSV injection: ``=HYPERLINK(...)``, ``@SUM(...)``).
#: The one rule for the web forms and the import (issue 11.15).
FORMULA_CHARS = ("=", "+", "-", "@")


def formula_message(value: str) -> str:
    shown = value if len(value) <= 30 else value[:30] + "…"
    if value.strip("-") == "" or value.strip("-—") == "":
        return f"内容“{shown}”以“{value[0]}”开头，会被当作公式；如果表示“无”，请留空"
    return (
        f"内容“{shown}”以“{value[0]}”开头，可能是公式，出于安全原因不予接受；"
        f"请删除开头的“{value[0]}”或留空"
    )


#: Free text that only looks like a formula and that no spreadsheet evaluates: a lone dash or
#: slash meaning "none" (规格型号 "-"), and plain signed numbers, phone numbers and dates
#: ("-1", "-2.5", "+86 138 0000 0001"). Spreadsheets read these as values.
#: A phone number keeps only digits and spaces after its "+": "+0374-1234567" would be
#: evaluated (=374-1234567), so it is refused like "-1-1" and "-1+1".
_HARMLESS_RE = re.compile(r"[-—–/]|[+-][0-9]+(?:[.,][0-9]+)*%?|\+[0-9][0-9 ]*[0-9]")


def is_formula(value: str) -> bool:
    """Would a spreadsheet evaluate ``value`` (already stripped) when the data is opened?

    "=" and "@" always start a formula ("@SUM(…)"); "+" and "-" do unless what follows is a
    plain number ("-1", "-2.5", "+3%") or a phone number of digits and spaces; a lone "-",
    "—", "–" or "/" is text meaning "none".
    """
    if not value or not value.startswith(FORMULA_CHARS):
        return False
    if value[0] in ("=", "@"):
        return True
    return _HARMLESS_RE.fullmatch(value) is None


def refuse_formula(value: str) -> str:
    """Return ``value`` (already normalised) or raise :class:`ValidationError` if a spreadsheet
    would evaluate it (:func:`is_formula`)."""
    if is_formula(value):
        raise ValidationError(formula_message(value))
    return value


# ---------------------------------------------------------------------------
# 统一社会信用代码
# ---------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters, no I O S V Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 3^(i-1) mod 31, i = 1..17
_USCC_HINTS = {"I": "1", "O": "0", "Z": "2", "S": "5", "V": "U"}


def normalize_uscc(s) -> str:
    """Full-width → half-width, lower → upper case, all whitespace removed."""
    return _WS_RE.sub("", normalize_text(s)).upper()


def _illegal_uscc_chars(code: str) -> list[str]:
    seen: list[str] = []
    for c in code:
        if c not in _USCC_VALUE and c not in seen:
            seen.append(c)
    return seen


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (normalised first)."""
    code = normalize_uscc(first17)
    if len(code) != 17:
        raise ValidationError(f"统一社会信用代码前17位应为17个字符（当前{len(code)}个）")
    bad = _illegal_uscc_chars(code)
    if bad:
        raise ValidationError(_illegal_message(bad))
    total = sum(_USCC_VALUE[c] * w for c, w in zip(code, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(first17: str) -> str:
    """Append the check character: for demo and benchmark data generators."""
    code = normalize_uscc(first17)
    return code + uscc_check_char(code)


def _illegal_message(bad: list[str]) -> str:
    chars = "".join(f"“{c}”" for c in bad)
    hints = [f"“{c}”应为“{_USCC_HINTS[c]}”？" for c in bad if c in _USCC_HINTS]
    msg = f"统一社会信用代码含非法字符{chars}"
    if hints:
        msg += "（代码中不使用字母 I、O、S、V、Z；" + "".join(hints) + "）"
    return msg


def validate_uscc(s) -> str:
    """Return the normalised 18-character code or raise :class:`ValidationError`."""
    code = normalize_uscc(s)
    if not code:
        raise ValidationError("统一社会信用代码不能为空")
    if len(code) != 18:
        msg = f"统一社会信用代码应为18位（当前{len(code)}位）"
        if len(code) == 15 and code.isdigit():
            msg += "：这可能是旧版15位注册号，请填写18位统一社会信用代码"
        raise ValidationError(msg)
    bad = _illegal_uscc_chars(code)
    if bad:
        raise ValidationError(_illegal_message(bad))
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        # Deliberately worded so the user re-checks the whole code: a wrong check
        # character usually means a typo in the first 17, not in the last one.
        raise ValidationError(
            f"统一社会信用代码校验位错误：按前17位计算应为{expected}，请核对整个代码是否录入有误"
        )
    return code


# ---------------------------------------------------------------------------
# 生产许可证编号
# ---------------------------------------------------------------------------

#: Abbreviations of the provincial-level divisions of the mainland (both the
#: one-character forms in use, e.g. 川/蜀, 贵/黔, 云/滇, 陕/秦, 甘/陇).
PROVINCE_ABBREVIATIONS = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川蜀贵黔云滇藏陕秦甘陇青宁新"

#: The one definition of a production-licence number (matched in full).
LICENCE_NO_PATTERN = rf"(?:[{PROVINCE_ABBREVIATIONS}])?XK\d{{2}}-\d{{3}}-\d{{5}}"
LICENCE_NO_EXAMPLE = "豫XK13-014-00012"
_LICENCE_RE = re.compile(LICENCE_NO_PATTERN, re.ASCII)
_LICENCE_ANY_PREFIX_RE = re.compile(r"(.+?)XK\d{2}-\d{3}-\d{5}", re.ASCII)


def normalize_licence_no(s) -> str:
    """Full-width → half-width, ``xk`` → ``XK``, dash variants → ``-``, spaces removed."""
    return normalize_code(s)


def validate_licence_no(s) -> str:
    """Return the normalised licence number or raise :class:`ValidationError`."""
    code = normalize_licence_no(s)
    if not code:
        raise ValidationError("生产许可证编号不能为空")
    if _LICENCE_RE.fullmatch(code):
        return code
    m = _LICENCE_ANY_PREFIX_RE.fullmatch(code)
    if m:
        raise ValidationError(
            f"生产许可证编号前缀“{_show(m.group(1), 10)}”不是省级行政区简称；"
            f"格式应为 {LICENCE_NO_EXAMPLE}（省份简称可省略）"
        )
    raise ValidationError(
        f"生产许可证编号格式应为 {LICENCE_NO_EXAMPLE}（省份简称可省略），"
        f"当前为“{_show(code)}”"
    )


# ---------------------------------------------------------------------------
# Phone numbers
# ---------------------------------------------------------------------------

_MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
# Area code: 010 and 02X are 3 digits, every other one is 4 digits (0XXX).
_LANDLINE_RE = re.compile(
    r"(?P<area>010|02\d|0[3-9]\d{2})-?(?P<local>\d{7,8})(?:-(?P<ext>\d{1,6}))?", re.ASCII
)
_SERVICE_RE = re.compile(r"(?P<p>[48]00)-?(?P<a>\d{3})-?(?P<b>\d{4})", re.ASCII)
_PHONE_MESSAGE = (
    "{label}格式不正确：应为11位手机号（如 13800000000）"
    "或带区号的固定电话（如 0374-1234567，分机可写作 0374-1234567-801）"
)


def normalize_phone(s) -> str:
    """Half-width digits, dashes unified, brackets around the area code and spaces removed.

    ``（0374）1234567`` → ``0374-1234567``; ``转``/``ext`` before an extension → ``-``.
    The result is not validated; see :func:`validate_phone`.
    """
    t = unify_dashes(normalize_text(s))
    t = re.sub(r"^\((0\d{2,3})\)", r"\1-", _WS_RE.sub("", t))
    t = re.sub(r"(?i)(转|ext\.?|x)(?=\d{1,6}$)", "-", t)
    t = re.sub(r"-{2,}", "-", t)
    return t


def validate_phone(s, label: str = "联系电话") -> str:
    """Return a canonical phone number or raise :class:`ValidationError`.

    Accepted: mainland mobile ``1[3-9]`` + 9 digits, optionally prefixed by
    ``+86``/``86``/``0086`` (returned as the bare 11 digits); landline with area
    code ``0XX(X)-NNNNNNN(N)`` with an optional extension ``-N{1,6}`` (returned
    as ``0374-1234567`` or ``0374-1234567-801``, the hyphen inserted if it was
    missing); 400/800 service numbers (returned as ``400-123-4567``).
    """
    raw = normalize_text(s)
    if not raw:
        raise ValidationError(f"{label}不能为空")
    t = normalize_phone(raw)
    # Mobile, with optional country code.
    mobile = re.sub(r"^(?:\+86|0086|86)-?", "", t)
    mobile_digits = mobile.replace("-", "")
    if _MOBILE_RE.fullmatch(mobile_digits) and re.fullmatch(r"[\d-]+", mobile):
        return mobile_digits
    m = _LANDLINE_RE.fullmatch(t)
    if m:
        out = f"{m['area']}-{m['local']}"
        return out + (f"-{m['ext']}" if m["ext"] else "")
    m = _SERVICE_RE.fullmatch(t)
    if m:
        return f"{m['p']}-{m['a']}-{m['b']}"
    if t.startswith("1") and t.isdigit():
        raise ValidationError(f"{label}格式不正确：手机号应为11位（当前{len(t)}位）")
    raise ValidationError(_PHONE_MESSAGE.format(label=label) + f"，当前为“{_show(raw)}”")


# ---------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------

_EXCEL_EPOCH = _dt.date(1899, 12, 30)  # serial 1 = 1900-01-01 (Lotus 1900 leap-year bug absorbed for serial > 60)
#: Excel serial numbers accepted as dates: 1950-01-01 .. 2100-12-31.
EXCEL_SERIAL_MIN = (_dt.date(1950, 1, 1) - _EXCEL_EPOCH).days
EXCEL_SERIAL_MAX = (_dt.date(2100, 12, 31) - _EXCEL_EPOCH).days
_MIN_YEAR, _MAX_YEAR = 1950, 2100

_DATE_RES = (
    # 2023-07-04, 2023/7/4, 2023.07.04, optionally followed by a time
    re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII),
    # 2023年7月4日 (日 optional), 二〇二三年 is not accepted
    re.compile(r"(\d{4})\s*(年)\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?", re.ASCII),
    # 20230704
    re.compile(r"(\d{4})()(\d{2})(\d{2})", re.ASCII),
)
_DATE_HELP = "应为 2023-07-04、2023/7/4、2023.07.04 或 2023年7月4日"


def _from_serial(value: float, label: str, shown: str) -> _dt.date:
    if not (EXCEL_SERIAL_MIN <= value <= EXCEL_SERIAL_MAX):
        raise ValidationError(f"{label}格式不正确：“{shown}”不是有效日期，{_DATE_HELP}")
    return _EXCEL_EPOCH + _dt.timedelta(days=int(math.floor(value)))


def parse_date(value, label: str = "日期") -> _dt.date:
    """Parse a date as typed in a form, CSV or Excel cell.

    Accepts ``date``/``datetime`` objects, ``2023-07-04``, ``2023/7/4``,
    ``2023.07.04``, ``2023年7月4日``, ``20230704`` (also with a trailing time,
    which is dropped), full-width digits, and Excel serial numbers
    (int/float, or a 5-digit string, in the range 1950-01-01 .. 2100-12-31),
    which is what an unformatted Excel date cell holds.
    Empty input raises ``“{label}不能为空”``.
    """
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, bool):
        raise ValidationError(f"{label}格式不正确，{_DATE_HELP}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"{label}格式不正确，{_DATE_HELP}")
        return _from_serial(value, label, str(value))
    text = normalize_text(value)
    if not text:
        raise ValidationError(f"{label}不能为空")
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text, re.ASCII):
        return _from_serial(float(text), label, text)
    for rx in _DATE_RES:
        m = rx.fullmatch(text)
        if m:
            y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
            if not (_MIN_YEAR <= y <= _MAX_YEAR):
                raise ValidationError(f"{label}年份不合理：“{_show(text)}”")
            try:
                return _dt.date(y, mo, d)
            except ValueError:
                raise ValidationError(f"{label}不存在：“{_show(text)}”（请核对月份和日期）") from None
    raise ValidationError(f"{label}格式不正确：“{_show(text)}”，{_DATE_HELP}")


def validate_validity(issue, expiry) -> tuple[_dt.date, _dt.date]:
    """Parse 发证日期 and 有效期至; 有效期至 must be later than 发证日期.

    Returns ``(issue_date, expiry_date)``.
    """
    issue_date = parse_date(issue, "发证日期")
    expiry_date = parse_date(expiry, "有效期至")
    if expiry_date <= issue_date:
        raise ValidationError(
            f"有效期至（{expiry_date.isoformat()}）应晚于发证日期（{issue_date.isoformat()}）",
            field="expiry",
        )
    return issue_date, expiry_date
