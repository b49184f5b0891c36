"""Text helpers shared by every feature (pure Python: no Flask, no database).

:func:`normalize_text` and :func:`normalize_code` for what users type into codes and
search boxes, :func:`clean_text` for free Chinese text, :func:`neutralize` for values
written into CSV and Excel files.
"""
from __future__ import annotations

import re

__all__ = [
    "normalize_text",
    "normalize_code",
    "unify_dashes",
    "clean_text",
    "INJECTION_CHARS",
    "neutralize",
]

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E.
_FULLWIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH_TABLE.update({
    0x3000: 0x20,   # ideographic space
    0x00A0: 0x20,   # no-break space
    0x2007: 0x20,   # figure space
    0x202F: 0x20,   # narrow no-break space
    0xFFE0: ord("¢"), 0xFFE1: ord("£"), 0xFFE5: ord("¥"),
})
# Zero-width characters that sneak in from copy & paste (web pages, Word).
_INVISIBLE = {0x200B: None, 0x200C: None, 0x200D: None, 0x2060: None, 0xFEFF: None}
_FULLWIDTH_TABLE.update(_INVISIBLE)

# Dash-like characters people type instead of "-" in codes and phone numbers.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uFE58\uFE63\u30FC\u2500"
_DASH_TABLE = {ord(c): ord("-") for c in _DASHES}

_WS_RE = re.compile(r"\s+")


def normalize_text(s) -> str:
    """Full-width ASCII → half-width, CJK kept, surrounding whitespace removed.

    ``None`` → ``""``. Non-strings are converted with ``str()``. Inner
    whitespace is kept as is (names may legitimately contain spaces); use
    :func:`normalize_code` for identifiers.
    """
    if s is None:
        return ""
    if not isinstance(s, str):
        s = str(s)
    return s.translate(_FULLWIDTH_TABLE).strip()


# Full-width digits and Latin letters only: Chinese prose keeps its own
# punctuation （，：；） while "１２号楼" becomes "12号楼".
_FULLWIDTH_ALNUM = {cp: cp - 0xFEE0 for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                               *range(0xFF41, 0xFF5B))}
_FULLWIDTH_ALNUM.update({0x3000: 0x20, 0x00A0: 0x20, 0x2007: 0x20, 0x202F: 0x20})


def clean_text(s) -> str:
    """Free Chinese text (names, addresses, reasons): surrounding whitespace removed,
    full-width digits and letters made half-width, punctuation left as typed."""
    if s is None:
        return ""
    if not isinstance(s, str):
        s = str(s)
    return s.translate(_INVISIBLE).translate(_FULLWIDTH_ALNUM).strip()


def unify_dashes(s: str) -> str:
    """Dash variants (—, －, ー, …) → ``-``."""
    return s.translate(_DASH_TABLE)


def normalize_code(s) -> str:
    """:func:`normalize_text`, then dash variants → ``-``, all whitespace removed, upper case."""
    s = unify_dashes(normalize_text(s))
    return _WS_RE.sub("", s).upper()


#: A CSV or Excel value starting with one of these is run as a formula by a spreadsheet.
INJECTION_CHARS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text: str) -> str:
    """Prefix ``'`` when ``text`` (after any leading apostrophes) starts with ``= + - @ TAB CR``."""
    rest = text.lstrip("'")
    if rest and rest[0] in INJECTION_CHARS:
        return "'" + text
    return text
