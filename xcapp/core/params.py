"""Numbers from URLs, query strings and forms, never trusted.

A number a database column cannot hold (``/public/plans/<10**30>``, ``?page=2**63``)
must not reach the database: SQLite refuses it with an OverflowError and PostgreSQL with
a DataError, both a 500. Ids are ``Integer`` columns, 32-bit on PostgreSQL.
"""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

DB_INT_MAX = 2 ** 31 - 1


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a value above ``DB_INT_MAX`` matches no route (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, DB_INT_MAX if max is None else max, signed)


def int_arg(source, name: str, default: int | None = None, *, minimum: int = -DB_INT_MAX,
            maximum: int = DB_INT_MAX) -> int | None:
    """``source[name]`` as an int within ``[minimum, maximum]``; ``default`` when it is
    missing or empty, None when it is not such a number (the caller refuses or ignores it)."""
    raw = (source.get(name) or "").strip()
    if not raw:
        return default
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None
