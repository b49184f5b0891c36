"""The draw protocol ``xcapp-draw-v1`` as pure functions.

This module implements ``DRAW-PROTOCOL.md`` exactly and nothing else: no Flask, no
database, no clock. Every draw is a pure function of published data (the frozen
population or officer pool) and entropy entered after the freeze, so anyone holding a
plan's bundle can recompute it; :func:`xcapp.plans.verify.verify_bundle` does exactly that.

Overview (section numbers refer to the protocol):

* §1 enterprises: :func:`population_lines`, :func:`population_digest`,
  :func:`enterprise_seed`, :func:`sample_size`, :func:`select_enterprises`.
* §2 inspectors: :func:`pool_digest`, :func:`inspector_seed`, :func:`compute_cap`,
  :func:`rank_candidates`, :func:`assign_inspectors`, :func:`next_replacement`.
* §3 bundle: the app exports what it *stored* (``plans.services.build_bundle``); the
  verifier is ``plans/verify.py``; a from-scratch reference construction for the tests
  is ``tests/draw_reference.py``.

Implementation note on speed: HMAC-SHA256 is computed as in RFC 2104 from two
precomputed SHA-256 states (key XOR ipad / key XOR opad) that are copied per message.
The result is byte-for-byte ``hmac.new(key, msg, "sha256")`` (the tests check this) but
avoids per-call key setup. Ranking sorts ``digest + id.encode()`` byte strings instead
of ``(hexdigest, id)`` tuples. The order is identical: lowercase hex of a fixed-length
digest preserves byte order, the digest's fixed length makes the id the tie-breaker, and
the UTF-8 byte order of strings equals their code-point order.

Cost: the enterprise draw is one HMAC per member; an inspector draw is one HMAC per
(task, candidate) pair, i.e. about ``T * P`` for a unit with T tasks and P officers.
"""
from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

from ..registry.vocab import RiskClass

__all__ = [
    "PROTOCOL",
    "INSPECTOR_PROTOCOL",
    "RISK_ORDER",
    "DEFAULT_RATIOS",
    "MIN_INSPECTORS",
    "Member",
    "Task",
    "Assignment",
    "Replacement",
    "UnitDraw",
    "DrawError",
    "InsufficientPool",
    "normalize_entropy",
    "random_entropy",
    "resolve_entropy",
    "population_lines",
    "population_digest",
    "class_counts",
    "enterprise_seed",
    "sample_size",
    "select_enterprises",
    "pool_digest",
    "inspector_seed",
    "compute_cap",
    "rank_candidates",
    "assign_inspectors",
    "next_replacement",
    "default_task_code",
]

#: Name of the protocol; also the prefix of the enterprise seed.
PROTOCOL: Final = "xcapp-draw-v1"
#: Prefix of the per-unit inspector seed (§2.2).
INSPECTOR_PROTOCOL: Final = "xcapp-inspectors-v1"
#: Risk classes in selection order (§1.4), as plain strings: the order of RiskClass.
RISK_ORDER: Final[tuple[str, ...]] = tuple(r.value for r in RiskClass)
#: The 2023 plan's ratios in whole percent per risk class.
DEFAULT_RATIOS: Final[Mapping[str, int]] = MappingProxyType(
    {RiskClass.LOW.value: 10, RiskClass.MID.value: 20, RiskClass.MIDHIGH.value: 30, RiskClass.HIGH.value: 50})
#: Minimum number of officers per task (§2.3: at least 2).
MIN_INSPECTORS: Final = 2


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class Member:
    """One enterprise of the frozen population: its USCC, risk class and unit code.

    Validated on construction: USCC and unit are non-empty and free of tabs and line
    breaks, the risk is one of :data:`RISK_ORDER`.
    """

    uscc: str
    risk: str
    unit: str

    def __post_init__(self) -> None:
        _check_id(self.uscc, "USCC")
        _check_id(self.unit, "unit")
        if self.risk not in RISK_ORDER:
            raise ValueError(f"unknown risk class {self.risk!r} for {self.uscc}")


@dataclass(frozen=True, slots=True)
class Task:
    """One task of a unit's inspector draw: the task code and the enterprise's USCC."""

    code: str
    uscc: str

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise ValueError(f"task code must be a non-empty str: {self.code!r}")
        _check_id(self.uscc, "USCC")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The officers drawn for one task, as drawn (before any replacement).

    ``excluded`` is sorted and free of duplicates; ``inspectors`` is in pick order;
    ``cap_lifted`` is true when the cap had to be ignored to reach ``k`` officers.
    """

    task: str
    excluded: list[str]
    inspectors: list[str]
    cap_lifted: bool


MemberLike: TypeAlias = Member | tuple[str, str, str]
TaskLike: TypeAlias = Task | tuple[str, str]


class DrawError(Exception):
    """Base class of the errors a draw or a verification reports to the user."""


class InsufficientPool(DrawError):
    """Fewer than ``k`` candidates exist for a task: the unit's draw fails as a whole."""

    def __init__(self, task_code: str, needed: int, available: int) -> None:
        self.task_code = task_code
        self.needed = needed
        self.available = available
        super().__init__(
            f"任务 {task_code} 可选检查人员不足：需要 {needed} 人，仅有 {available} 人"
        )


# ------------------------------------------------------------------------ helpers

_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))
_SHA256_BLOCK: Final = 64
_FORBIDDEN: Final = "\t\r\n"
_DIGEST_SIZE: Final = 32  # bytes of a SHA-256 digest


class _HmacKey:
    """HMAC-SHA256 with the key schedule done once (RFC 2104).

    ``inner``/``outer`` are SHA-256 states that have absorbed ``key ^ ipad`` and
    ``key ^ opad``; a MAC is ``outer.copy().update(inner.copy().update(msg).digest())``.
    """

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self.inner = hashlib.sha256(key.translate(_IPAD))
        self.outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, msg: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(msg)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _seed_key(seed: str) -> _HmacKey:
    """The HMAC key of a seed: the seed (a hex string) as ASCII bytes."""
    if not isinstance(seed, str):
        raise TypeError(f"seed must be a str, not {type(seed).__name__}")
    return _HmacKey(seed.encode("ascii"))


def _check_id(value: object, what: str) -> str:
    """A non-empty identifier without tabs or line breaks (they would break the line formats)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    # isprintable() is a fast C check that already excludes tabs and line breaks.
    if value and (value.isprintable() or not any(c in value for c in _FORBIDDEN)):
        return value
    if not value:
        raise ValueError(f"{what} must not be empty")
    raise ValueError(f"{what} must not contain tabs or line breaks: {value!r}")


def _as_member(m: MemberLike) -> Member:
    """A :class:`Member` (validated when it was constructed)."""
    return m if isinstance(m, Member) else Member(*m)


def _members(members: Iterable[MemberLike]) -> list[Member]:
    """Validated members; a USCC may appear only once."""
    result = [_as_member(m) for m in members]
    if len({m.uscc for m in result}) != len(result):
        dupes = [u for u, n in Counter(m.uscc for m in result).items() if n > 1]
        raise ValueError(f"duplicate USCC in population: {sorted(dupes)[0]}")
    return result


def _pool(pool: Iterable[str]) -> list[str]:
    """Validated certificate numbers; each may appear only once."""
    if isinstance(pool, str):
        raise TypeError("pool must be an iterable of certificate numbers, not a str")
    certs = [_check_id(c, "certificate number") for c in pool]
    if len(set(certs)) != len(certs):
        dupes = [c for c, n in Counter(certs).items() if n > 1]
        raise ValueError(f"duplicate certificate number in pool: {sorted(dupes)[0]}")
    return certs


def _cert_set(certs: Iterable[str] | None, what: str) -> set[str]:
    if certs is None:
        return set()
    if isinstance(certs, str):
        raise TypeError(f"{what} must be an iterable of certificate numbers, not a str")
    return set(certs)


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, not {type(k).__name__}")
    if k < MIN_INSPECTORS:
        raise ValueError(f"k must be at least {MIN_INSPECTORS}, got {k}")
    return k


def _check_ratio(p: object, what: str = "ratio") -> int:
    if isinstance(p, bool) or not isinstance(p, int):
        raise TypeError(f"{what} must be a whole percent (int), not {type(p).__name__}")
    if not 0 <= p <= 100:
        raise ValueError(f"{what} must be between 0 and 100, got {p}")
    return p


def _check_ratios(ratios: Mapping[str, int]) -> dict[str, int]:
    unknown = set(ratios) - set(RISK_ORDER)
    if unknown:
        raise ValueError(f"unknown risk class in ratios: {sorted(unknown)[0]!r}")
    missing = [r for r in RISK_ORDER if r not in ratios]
    if missing:
        raise ValueError(f"no ratio for risk class {missing[0]!r}")
    return {r: _check_ratio(ratios[r], f"ratio of {r}") for r in RISK_ORDER}


# ------------------------------------------------------------------- §1 enterprises


def normalize_entropy(entropy: str) -> str:
    """Entropy as used in the seeds: surrounding white space stripped (§1.2).

    White space is Python's notion (``str.strip``), which includes the ideographic
    space U+3000 that Chinese input methods produce.
    """
    if not isinstance(entropy, str):
        raise TypeError(f"entropy must be a str, not {type(entropy).__name__}")
    return entropy.strip()


def random_entropy() -> str:
    """Server randomness for an empty entry: 32 bytes from ``secrets`` as hex (§1.2)."""
    return secrets.token_hex(32)


def resolve_entropy(entered: str | None) -> str:
    """The entropy to record: the entry normalized, or :func:`random_entropy` if empty."""
    value = normalize_entropy(entered or "")
    return value or random_entropy()


def population_lines(members: Iterable[MemberLike]) -> str:
    """The frozen population as text: ``USCC\\tRISK\\tUNIT\\n`` per enterprise, by USCC."""
    ordered = sorted(_members(members), key=lambda m: m.uscc)
    return "".join(f"{m.uscc}\t{m.risk}\t{m.unit}\n" for m in ordered)


def population_digest(members: Iterable[MemberLike]) -> str:
    """SHA-256 (hex) of :func:`population_lines` (§1.1)."""
    return _sha256_hex(population_lines(members))


def class_counts(members: Iterable[MemberLike]) -> dict[str, int]:
    """Number of enterprises per risk class, in :data:`RISK_ORDER` (recorded at freeze)."""
    counts = Counter(m.risk for m in _members(members))
    return {r: counts.get(r, 0) for r in RISK_ORDER}


def enterprise_seed(plan_code: str, population_digest: str, entropy: str) -> str:
    """``sha256("xcapp-draw-v1|" + plan_code + "|" + population_digest + "|" + entropy)`` (§1.3)."""
    return _sha256_hex(
        f"{PROTOCOL}|{plan_code}|{population_digest}|{normalize_entropy(entropy)}"
    )


def sample_size(N: int, p: int) -> int:
    """How many of a class of ``N`` to draw at ``p`` percent: ``ceil(N * p / 100)``."""
    if isinstance(N, bool) or not isinstance(N, int):
        raise TypeError(f"N must be an int, not {type(N).__name__}")
    if N < 0:
        raise ValueError(f"N must not be negative, got {N}")
    p = _check_ratio(p)
    return (N * p + 99) // 100


def _rank_ids(
    key: _HmacKey, ids: Iterable[str], prefix: bytes = b"", limit: int | None = None
) -> list[str]:
    """``ids`` ordered by ``(hmac(key, prefix + id).hexdigest(), id)``; the first ``limit`` if given.

    Each id is keyed by ``digest + id.encode()``; sorting these byte strings gives the
    same order (see the module docstring) and is much faster than sorting tuples.
    """
    base = key.inner.copy()
    if prefix:
        base.update(prefix)
    inner_copy = base.copy
    outer_copy = key.outer.copy
    keyed: list[bytes] = []
    append = keyed.append
    for ident in ids:
        raw = ident.encode()
        inner = inner_copy()
        inner.update(raw)
        outer = outer_copy()
        outer.update(inner.digest())
        append(outer.digest() + raw)
    keyed.sort()
    return [k[_DIGEST_SIZE:].decode() for k in keyed[:limit]]


def select_enterprises(
    members: Iterable[MemberLike], ratios: Mapping[str, int], seed: str
) -> list[str]:
    """The selected USCCs: per class in :data:`RISK_ORDER`, the first ``n`` by rank (§1.4).

    A member's rank is ``(hmac_sha256(key=seed as ASCII, msg=USCC).hexdigest(), USCC)``.
    """
    checked = _check_ratios(ratios)
    key = _seed_key(seed)
    by_class: dict[str, list[str]] = {r: [] for r in RISK_ORDER}
    for m in _members(members):
        by_class[m.risk].append(m.uscc)
    selected: list[str] = []
    for risk in RISK_ORDER:
        usccs = by_class[risk]
        n = sample_size(len(usccs), checked[risk])
        if n:
            selected.extend(_rank_ids(key, usccs, limit=n))
    return selected


# ------------------------------------------------------------------- §2 inspectors


def pool_digest(cert_nos: Iterable[str]) -> str:
    """SHA-256 (hex) of the sorted certificate numbers, each followed by ``\\n`` (§2.1)."""
    return _sha256_hex("".join(f"{c}\n" for c in sorted(_pool(cert_nos))))


def inspector_seed(plan_code: str, unit: str, pool_digest: str, entropy: str) -> str:
    """``sha256("xcapp-inspectors-v1|" + plan_code + "|" + UNIT + "|" + pool_digest + "|" + entropy)``."""
    return _sha256_hex(
        f"{INSPECTOR_PROTOCOL}|{plan_code}|{unit}|{pool_digest}|{normalize_entropy(entropy)}"
    )


def compute_cap(T: int, k: int, P: int) -> int:
    """Most tasks per officer in one draw: ``ceil(T * k / P)`` (§2.3); 0 for an empty pool."""
    for name, value in (("T", T), ("k", k), ("P", P)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    if P == 0:
        return 0
    return (T * k + P - 1) // P


def _task_prefix(task_code: str) -> bytes:
    return f"{task_code}|".encode("utf-8")


def rank_candidates(
    task_code: str, pool: Iterable[str], excluded: Iterable[str] | None, seed_u: str
) -> list[str]:
    """A task's candidates (pool minus excluded) in rank order (§2.3).

    The rank is ``(hmac_sha256(key=seed_u as ASCII, msg=TASK_CODE + "|" + CERT_NO)
    .hexdigest(), CERT_NO)`` ascending.
    """
    excl = _cert_set(excluded, "excluded")
    candidates = [c for c in _pool(pool) if c not in excl]
    return _rank_ids(_seed_key(seed_u), candidates, _task_prefix(task_code))


def _as_task(t: TaskLike) -> Task:
    """A :class:`Task` (validated when it was constructed)."""
    return t if isinstance(t, Task) else Task(*t)


def assign_inspectors(
    tasks: Iterable[TaskLike],
    pool: Iterable[str],
    exclusions: Mapping[str, Iterable[str]] | None,
    k: int,
    seed_u: str,
) -> list[Assignment]:
    """Draw ``k`` officers for each of a unit's tasks (§2.3).

    ``tasks`` are ``(code, uscc)`` pairs; they are processed, and returned, in ascending
    USCC order (ties, which a plan never has, by task code). ``exclusions`` maps a task
    code to the certificate numbers excluded from it (recusals plus the officers of the
    enterprise's most recent earlier inspection); codes of other tasks are ignored.

    For each task the first ``k`` candidates in rank order whose count of tasks in this
    draw is below the cap are picked; if fewer qualify, the rest are filled from the
    remaining candidates in rank order and the task is marked ``cap_lifted``.

    Raises :class:`InsufficientPool` for the first task (in processing order) that has
    fewer than ``k`` candidates at all. Being a pure function, nothing is stored either way.
    """
    k = _check_k(k)
    certs = _pool(pool)
    task_list = sorted((_as_task(t) for t in tasks), key=lambda t: (t.uscc, t.code))
    if len({t.code for t in task_list}) != len(task_list):
        dupes = [c for c, n in Counter(t.code for t in task_list).items() if n > 1]
        raise ValueError(f"duplicate task code: {dupes[0]}")
    exclusions = exclusions or {}
    cap = compute_cap(len(task_list), k, len(certs))
    key = _seed_key(seed_u)
    encoded = [(c, c.encode()) for c in certs]
    counts = dict.fromkeys(certs, 0)
    inner_base = key.inner
    outer_copy = key.outer.copy
    result: list[Assignment] = []
    for task in task_list:
        excl = _cert_set(exclusions.get(task.code), f"exclusions of {task.code}")
        candidates = [e for e in encoded if e[0] not in excl] if excl else encoded
        if len(candidates) < k:
            raise InsufficientPool(task.code, k, len(candidates))
        # Rank as in _rank_ids (inlined: this loop runs T * P times).
        task_inner = inner_base.copy()
        task_inner.update(_task_prefix(task.code))
        inner_copy = task_inner.copy
        keyed: list[bytes] = []
        for _, raw in candidates:
            inner = inner_copy()
            inner.update(raw)
            outer = outer_copy()
            outer.update(inner.digest())
            keyed.append(outer.digest() + raw)
        keyed.sort()
        picked: list[str] = []
        at_cap: list[str] = []  # candidates passed over because of the cap, in rank order
        for item in keyed:
            cert = item[_DIGEST_SIZE:].decode()
            if counts[cert] < cap:
                picked.append(cert)
                if len(picked) == k:
                    break
            else:
                at_cap.append(cert)
        cap_lifted = len(picked) < k
        if cap_lifted:
            # Every candidate was visited, so at_cap holds all the remaining ones.
            picked.extend(at_cap[: k - len(picked)])
        for cert in picked:
            counts[cert] += 1
        result.append(Assignment(task.code, sorted(excl), picked, cap_lifted))
    return result


def next_replacement(
    task_code: str,
    pool: Iterable[str],
    excluded: Iterable[str] | None,
    already_assigned_ever: Iterable[str] | None,
    seed_u: str,
) -> str | None:
    """The replacement for an officer leaving a task (§2.4), or ``None`` if nobody is left.

    It is the first candidate in the task's rank order who is neither excluded nor was
    ever assigned to this task (the officer being replaced included). The cap does not
    apply to replacements.
    """
    used = _cert_set(already_assigned_ever, "already_assigned_ever")
    for cert in rank_candidates(task_code, pool, excluded, seed_u):
        if cert not in used:
            return cert
    return None


# ------------------------------------------------------------------------ task codes


def default_task_code(plan_code: str, index: int, total: int) -> str:
    """``PLAN-001`` style code of the ``index``-th (1-based) of ``total`` tasks."""
    return f"{plan_code}-{index:0{max(3, len(str(total)))}d}"
