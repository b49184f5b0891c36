"""The draw protocol ``xcapp-draw-v1`` as pure functions.

This module implements ``DRAW-PROTOCOL.md`` exactly and nothing else: no Flask, no
database, no clock. Every draw is a pure function of published data (the frozen
population or officer pool) and entropy entered after the freeze, so anyone holding a
plan's bundle can recompute it; :func:`verify_bundle` does exactly that.

Overview (section numbers refer to the protocol):

* §1 enterprises: :func:`population_lines`, :func:`population_digest`,
  :func:`enterprise_seed`, :func:`sample_size`, :func:`select_enterprises`.
* §2 inspectors: :func:`pool_digest`, :func:`inspector_seed`, :func:`compute_cap`,
  :func:`rank_candidates`, :func:`assign_inspectors`, :func:`next_replacement`.
* §3 bundle: :func:`verify_bundle`, :func:`build_bundle` (a reference construction used
  by tests and demo data; the app must export what it *stored*, not recompute it).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias

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
    "BundleMismatch",
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
    "build_bundle",
    "verify_bundle",
]

#: Name of the protocol; also the prefix of the enterprise seed.
PROTOCOL: Final = "xcapp-draw-v1"
#: Prefix of the per-unit inspector seed (§2.2).
INSPECTOR_PROTOCOL: Final = "xcapp-inspectors-v1"
#: Risk classes in selection order (§1.4).
RISK_ORDER: Final[tuple[str, ...]] = ("低", "中", "中高", "高")
#: The 2023 plan's ratios in whole percent per risk class.
DEFAULT_RATIOS: Final[Mapping[str, int]] = MappingProxyType({"低": 10, "中": 20, "中高": 30, "高": 50})
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

    def to_dict(self) -> dict[str, Any]:
        """The bundle form of this assignment (§3)."""
        return {
            "task": self.task,
            "excluded": list(self.excluded),
            "inspectors": list(self.inspectors),
            "cap_lifted": self.cap_lifted,
        }


@dataclass(frozen=True, slots=True)
class Replacement:
    """A replacement request for :func:`build_bundle`: who leaves which task, and why."""

    task: str
    out: str
    reason: str
    at: str = ""


@dataclass(frozen=True, slots=True)
class UnitDraw:
    """Inputs of one unit's inspector draw for :func:`build_bundle`.

    ``exclusions`` maps task codes to excluded certificate numbers; ``entropy`` is used
    as entered (after :func:`normalize_entropy`), the empty string included.
    """

    unit: str
    pool: Sequence[str]
    entropy: str = ""
    exclusions: Mapping[str, Iterable[str]] = field(default_factory=dict)
    replacements: Sequence[Replacement] = ()


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


class BundleMismatch(DrawError):
    """A bundle does not recompute; names the first place where it differs.

    ``path`` locates the value in the bundle (for example
    ``inspector_draws[0].assignments[3].inspectors``), ``expected`` is what the
    recomputation (or the format) requires and ``actual`` is what the bundle holds.
    """

    def __init__(self, path: str, expected: Any, actual: Any, detail: str = "") -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        self.detail = detail
        message = f"bundle mismatch at {path}: expected {expected!r}, found {actual!r}"
        if detail:
            message += f" ({detail})"
        super().__init__(message)


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


# ------------------------------------------------------------------------ §3 bundle


def default_task_code(plan_code: str, index: int, total: int) -> str:
    """``PLAN-001`` style code of the ``index``-th (1-based) of ``total`` tasks."""
    return f"{plan_code}-{index:0{max(3, len(str(total)))}d}"


def build_bundle(
    *,
    plan_code: str,
    members: Iterable[MemberLike],
    entropy: str,
    ratios: Mapping[str, int] = DEFAULT_RATIOS,
    k: int = MIN_INSPECTORS,
    plan_name: str = "",
    inspector_draws: Iterable[UnitDraw] = (),
    task_code: Callable[[str, int, int], str] = default_task_code,
) -> dict[str, Any]:
    """Run a whole plan's draws from scratch and return its bundle (§3).

    A reference construction for tests, demo data and documentation: tasks are numbered
    in ``selected`` order with ``task_code(plan_code, i, total)``. The app itself must
    export what it stored rather than call this. Raises :class:`InsufficientPool` when a
    unit draw fails and ``ValueError`` for an impossible replacement.
    """
    checked = _check_ratios(ratios)
    k = _check_k(k)
    population = sorted(_members(members), key=lambda m: m.uscc)
    by_uscc = {m.uscc: m for m in population}
    entropy = normalize_entropy(entropy)
    digest = population_digest(population)
    seed = enterprise_seed(plan_code, digest, entropy)
    selected = select_enterprises(population, checked, seed)
    tasks = [
        {"code": task_code(plan_code, i, len(selected)), "uscc": u, "unit": by_uscc[u].unit}
        for i, u in enumerate(selected, 1)
    ]
    draws: list[dict[str, Any]] = []
    for ud in inspector_draws:
        pool = sorted(_pool(ud.pool))
        p_digest = pool_digest(pool)
        u_entropy = normalize_entropy(ud.entropy)
        seed_u = inspector_seed(plan_code, ud.unit, p_digest, u_entropy)
        unit_tasks = [(t["code"], t["uscc"]) for t in tasks if t["unit"] == ud.unit]
        assignments = assign_inspectors(unit_tasks, pool, ud.exclusions, k, seed_u)
        state = {a.task: a for a in assignments}
        current = {a.task: list(a.inspectors) for a in assignments}
        ever = {a.task: set(a.inspectors) for a in assignments}
        replacements: list[dict[str, Any]] = []
        for r in ud.replacements:
            if r.task not in state:
                raise ValueError(f"no task {r.task} in the draw of unit {ud.unit}")
            if r.out not in current[r.task]:
                raise ValueError(f"{r.out} is not assigned to task {r.task}")
            if not r.reason.strip():
                raise ValueError("a replacement needs a reason")
            new = next_replacement(r.task, pool, state[r.task].excluded, ever[r.task], seed_u)
            if new is None:
                raise ValueError(f"no replacement candidate left for task {r.task}")
            current[r.task][current[r.task].index(r.out)] = new
            ever[r.task].add(new)
            replacements.append(
                {"task": r.task, "out": r.out, "in": new, "reason": r.reason, "at": r.at}
            )
        draws.append(
            {
                "unit": ud.unit,
                "pool": pool,
                "pool_digest": p_digest,
                "entropy": u_entropy,
                "seed": seed_u,
                "cap": compute_cap(len(unit_tasks), k, len(pool)),
                "assignments": [a.to_dict() for a in assignments],
                "replacements": replacements,
            }
        )
    return {
        "protocol": PROTOCOL,
        "plan": {"code": plan_code, "name": plan_name, "ratios": dict(checked), "k": k},
        "population": [{"uscc": m.uscc, "risk": m.risk, "unit": m.unit} for m in population],
        "population_digest": digest,
        "entropy": entropy,
        "seed": seed,
        "selected": selected,
        "tasks": tasks,
        "inspector_draws": draws,
    }


# -------------------------------------------------------------------- verification


def _get(obj: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    """``obj[key]``, which must exist and be of ``kind`` (bools are not ints)."""
    here = f"{path}.{key}" if path else key
    if key not in obj:
        raise BundleMismatch(here, _kind_name(kind), None, "missing")
    value = obj[key]
    _expect(value, here, kind)
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(f"a {k.__name__}" for k in kinds)


def _expect(value: Any, path: str, kind: type | tuple[type, ...]) -> None:
    bad_bool = isinstance(value, bool) and kind in (int, (int,))
    if bad_bool or not isinstance(value, kind):
        raise BundleMismatch(path, _kind_name(kind), type(value).__name__, "wrong type")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates, possible in JSON ("\ud800")
            raise BundleMismatch(path, "valid Unicode text", value, "not encodable as UTF-8") from None


def _str_list(value: Any, path: str, *, unique: bool = True, non_empty: bool = True) -> list[str]:
    _expect(value, path, list)
    seen: set[str] = set()
    for i, item in enumerate(value):
        _expect(item, f"{path}[{i}]", str)
        if non_empty and not item:
            raise BundleMismatch(f"{path}[{i}]", "a non-empty string", item)
        if unique and item in seen:
            raise BundleMismatch(f"{path}[{i}]", "no duplicates", item, "listed twice")
        seen.add(item)
    return value


def _check_entropy(value: str, path: str) -> None:
    if normalize_entropy(value) != value:
        raise BundleMismatch(
            path, normalize_entropy(value), value, "entropy is recorded without surrounding white space"
        )


def _compare_list(expected: list[str], actual: list[str], path: str) -> None:
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            raise BundleMismatch(f"{path}[{i}]", e, a)
    if len(expected) != len(actual):
        raise BundleMismatch(path, expected, actual, f"{len(expected)} entries expected, {len(actual)} found")


def verify_bundle(bundle: Mapping[str, Any]) -> None:
    """Recompute a plan's draws from its bundle alone; raise :class:`BundleMismatch` at the first difference.

    Checked in order: protocol name; plan code, ratios (the four classes, whole percents
    0-100) and ``k >= 2``; population entries; ``population_digest``; entropy (recorded
    stripped) and seed; ``selected``; tasks (each selected enterprise exactly one task,
    dispatched to the enterprise's unit, unique codes); then per inspector draw (one per
    unit): pool, ``pool_digest``, entropy and seed, cap, every assignment (excluded lists
    are inputs but must not contain the task's inspectors; inspectors in pick order and
    ``cap_lifted`` are recomputed) and the replacements in order (each ``in`` must be
    :func:`next_replacement` given the task's excluded officers and everyone assigned to
    the task so far; ``out`` must currently be assigned; the reason must not be blank).
    Extra keys are ignored. A bundle of a plan drawn but not yet dispatched has no
    ``tasks``; one dispatched before any officer draw has no ``inspector_draws``.
    """
    _expect(bundle, "bundle", Mapping)
    protocol = _get(bundle, "protocol", "", str)
    if protocol != PROTOCOL:
        raise BundleMismatch("protocol", PROTOCOL, protocol)

    # Plan settings.
    plan = _get(bundle, "plan", "", Mapping)
    plan_code = _get(plan, "code", "plan", str)
    if not plan_code:
        raise BundleMismatch("plan.code", "a non-empty string", plan_code)
    ratios = _get(plan, "ratios", "plan", Mapping)
    for risk in ratios:
        if risk not in RISK_ORDER:
            raise BundleMismatch(f"plan.ratios.{risk}", "no such risk class", ratios[risk])
    for risk in RISK_ORDER:
        p = _get(ratios, risk, "plan.ratios", int)
        if not 0 <= p <= 100:
            raise BundleMismatch(f"plan.ratios.{risk}", "a whole percent 0-100", p)
    k = _get(plan, "k", "plan", int)
    if k < MIN_INSPECTORS:
        raise BundleMismatch("plan.k", f"at least {MIN_INSPECTORS}", k)

    # §1.1 population and its digest.
    population = _get(bundle, "population", "", list)
    members: list[Member] = []
    seen_uscc: set[str] = set()
    for i, entry in enumerate(population):
        here = f"population[{i}]"
        _expect(entry, here, Mapping)
        uscc = _get(entry, "uscc", here, str)
        risk = _get(entry, "risk", here, str)
        unit = _get(entry, "unit", here, str)
        for name, value in (("uscc", uscc), ("unit", unit)):
            if not value or any(c in value for c in "\t\r\n"):
                raise BundleMismatch(f"{here}.{name}", "a non-empty code without tabs or line breaks", value)
        if risk not in RISK_ORDER:
            raise BundleMismatch(f"{here}.risk", "one of " + " ".join(RISK_ORDER), risk)
        if uscc in seen_uscc:
            raise BundleMismatch(f"{here}.uscc", "a USCC listed once", uscc, "listed twice")
        seen_uscc.add(uscc)
        members.append(Member(uscc, risk, unit))
    digest = population_digest(members)
    recorded_digest = _get(bundle, "population_digest", "", str)
    if recorded_digest != digest:
        raise BundleMismatch("population_digest", digest, recorded_digest)

    # §1.2-1.3 entropy and seed.
    entropy = _get(bundle, "entropy", "", str)
    _check_entropy(entropy, "entropy")
    seed = enterprise_seed(plan_code, digest, entropy)
    recorded_seed = _get(bundle, "seed", "", str)
    if recorded_seed != seed:
        raise BundleMismatch("seed", seed, recorded_seed)

    # §1.4 selection.
    selected = select_enterprises(members, ratios, seed)
    _compare_list(selected, _str_list(_get(bundle, "selected", "", list), "selected", unique=False), "selected")

    # A plan drawn but not yet dispatched has no tasks yet: its bundle ends here.
    if "tasks" not in bundle:
        if "inspector_draws" in bundle:
            raise BundleMismatch("tasks", "a task list", None, "inspector draws without tasks")
        return

    # Tasks: each selected enterprise exactly once, at its own unit.
    by_uscc = {m.uscc: m for m in members}
    selected_set = set(selected)
    tasks = _get(bundle, "tasks", "", list)
    task_by_code: dict[str, tuple[str, str]] = {}  # code -> (uscc, unit)
    task_of_uscc: dict[str, str] = {}
    for i, entry in enumerate(tasks):
        here = f"tasks[{i}]"
        _expect(entry, here, Mapping)
        code = _get(entry, "code", here, str)
        uscc = _get(entry, "uscc", here, str)
        unit = _get(entry, "unit", here, str)
        if not code:
            raise BundleMismatch(f"{here}.code", "a non-empty string", code)
        if code in task_by_code:
            raise BundleMismatch(f"{here}.code", "a task code used once", code, "listed twice")
        if uscc not in selected_set:
            raise BundleMismatch(f"{here}.uscc", "a selected enterprise", uscc)
        if uscc in task_of_uscc:
            raise BundleMismatch(
                f"{here}.uscc", "one task per selected enterprise", uscc, f"already task {task_of_uscc[uscc]}"
            )
        if unit != by_uscc[uscc].unit:
            raise BundleMismatch(f"{here}.unit", by_uscc[uscc].unit, unit, f"the unit of {uscc}")
        task_by_code[code] = (uscc, unit)
        task_of_uscc[uscc] = code
    for uscc in selected:
        if uscc not in task_of_uscc:
            raise BundleMismatch("tasks", f"a task for {uscc}", None, "selected enterprise without task")

    # §2 inspector draws, one per unit.
    draws = _get(bundle, "inspector_draws", "", list) if "inspector_draws" in bundle else []
    seen_units: set[str] = set()
    for j, draw in enumerate(draws):
        here = f"inspector_draws[{j}]"
        _expect(draw, here, Mapping)
        unit = _get(draw, "unit", here, str)
        if unit in seen_units:
            raise BundleMismatch(f"{here}.unit", "one draw per unit", unit, "listed twice")
        seen_units.add(unit)
        unit_tasks = [(code, ut[0]) for code, ut in task_by_code.items() if ut[1] == unit]
        _verify_inspector_draw(draw, here, plan_code, unit, unit_tasks, k)


def _verify_inspector_draw(
    draw: Mapping[str, Any],
    here: str,
    plan_code: str,
    unit: str,
    unit_tasks: list[tuple[str, str]],
    k: int,
) -> None:
    """Check one unit's inspector draw (see :func:`verify_bundle`)."""
    pool = _str_list(_get(draw, "pool", here, list), f"{here}.pool")
    for i, cert in enumerate(pool):
        if any(c in cert for c in "\t\r\n"):
            raise BundleMismatch(f"{here}.pool[{i}]", "a certificate number without line breaks", cert)
    p_digest = pool_digest(pool)
    recorded = _get(draw, "pool_digest", here, str)
    if recorded != p_digest:
        raise BundleMismatch(f"{here}.pool_digest", p_digest, recorded)
    entropy = _get(draw, "entropy", here, str)
    _check_entropy(entropy, f"{here}.entropy")
    seed_u = inspector_seed(plan_code, unit, p_digest, entropy)
    recorded = _get(draw, "seed", here, str)
    if recorded != seed_u:
        raise BundleMismatch(f"{here}.seed", seed_u, recorded)
    cap = compute_cap(len(unit_tasks), k, len(pool))
    recorded_cap = _get(draw, "cap", here, int)
    if recorded_cap != cap:
        raise BundleMismatch(f"{here}.cap", cap, recorded_cap)

    # Structure of the assignments: exactly one per task of the unit.
    codes = {code for code, _ in unit_tasks}
    assignments = _get(draw, "assignments", here, list)
    index_of: dict[str, int] = {}
    exclusions: dict[str, list[str]] = {}
    for i, a in enumerate(assignments):
        at = f"{here}.assignments[{i}]"
        _expect(a, at, Mapping)
        code = _get(a, "task", at, str)
        if code not in codes:
            raise BundleMismatch(f"{at}.task", f"a task of unit {unit}", code)
        if code in index_of:
            raise BundleMismatch(f"{at}.task", "one assignment per task", code, "listed twice")
        index_of[code] = i
        excluded = _str_list(_get(a, "excluded", at, list), f"{at}.excluded")
        inspectors = _str_list(_get(a, "inspectors", at, list), f"{at}.inspectors")
        _get(a, "cap_lifted", at, bool)
        for n, cert in enumerate(inspectors):
            if cert in excluded:
                raise BundleMismatch(f"{at}.inspectors[{n}]", "an officer not excluded from the task", cert)
        exclusions[code] = excluded
    for code, uscc in sorted(unit_tasks, key=lambda t: (t[1], t[0])):
        if code not in index_of:
            raise BundleMismatch(f"{here}.assignments", f"an assignment for task {code}", None, "missing")

    # Recompute and compare, in processing order so the first difference is the cause.
    try:
        drawn = assign_inspectors(unit_tasks, pool, exclusions, k, seed_u)
    except InsufficientPool as exc:
        at = f"{here}.assignments[{index_of[exc.task_code]}]"
        raise BundleMismatch(f"{at}.excluded", f"at least {exc.needed} candidates", exc.available, str(exc)) from None
    state: dict[str, Assignment] = {}
    for expected in drawn:
        at = f"{here}.assignments[{index_of[expected.task]}]"
        actual = assignments[index_of[expected.task]]
        _compare_list(expected.inspectors, actual["inspectors"], f"{at}.inspectors")
        if actual["cap_lifted"] != expected.cap_lifted:
            raise BundleMismatch(f"{at}.cap_lifted", expected.cap_lifted, actual["cap_lifted"])
        state[expected.task] = expected

    # §2.4 replacements, applied in order.
    current = {code: list(a.inspectors) for code, a in state.items()}
    ever = {code: set(a.inspectors) for code, a in state.items()}
    replacements = _get(draw, "replacements", here, list) if "replacements" in draw else []
    for i, r in enumerate(replacements):
        at = f"{here}.replacements[{i}]"
        _expect(r, at, Mapping)
        code = _get(r, "task", at, str)
        if code not in state:
            raise BundleMismatch(f"{at}.task", f"a task of unit {unit}", code)
        out = _get(r, "out", at, str)
        if out not in current[code]:
            raise BundleMismatch(f"{at}.out", f"one of {current[code]}", out, "not assigned to the task")
        new = _get(r, "in", at, str)
        reason = _get(r, "reason", at, str)
        if not reason.strip():
            raise BundleMismatch(f"{at}.reason", "a reason", reason, "a replacement needs a reason")
        if "at" in r:
            _get(r, "at", at, str)
        expected_new = next_replacement(code, pool, state[code].excluded, ever[code], seed_u)
        if new != expected_new:
            raise BundleMismatch(
                f"{at}.in", expected_new, new, "no candidate left" if expected_new is None else ""
            )
        current[code][current[code].index(out)] = new
        ever[code].add(new)
