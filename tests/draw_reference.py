"""A reference construction of a plan's bundle (§3 of ``docs/DRAW-PROTOCOL.md``) for the tests.

:func:`reference_bundle` runs a whole plan's draws from scratch with the protocol's pure
functions (:mod:`xcapp.plans.sampling`); the app never does this: it exports what it stored
(``xcapp.plans.services.build_bundle``), and both kinds of bundle must pass
:func:`xcapp.plans.verify.verify_bundle`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xcapp.plans.sampling import (
    DEFAULT_RATIOS,
    MIN_INSPECTORS,
    PROTOCOL,
    Assignment,
    MemberLike,
    _check_k,
    _check_ratios,
    _members,
    _pool,
    assign_inspectors,
    compute_cap,
    default_task_code,
    enterprise_seed,
    inspector_seed,
    next_replacement,
    normalize_entropy,
    pool_digest,
    population_digest,
    select_enterprises,
)


@dataclass(frozen=True, slots=True)
class Replacement:
    """A replacement request for :func:`reference_bundle`: who leaves which task, and why."""

    task: str
    out: str
    reason: str
    at: str = ""


@dataclass(frozen=True, slots=True)
class UnitDraw:
    """Inputs of one unit's inspector draw for :func:`reference_bundle`.

    ``exclusions`` maps task codes to excluded certificate numbers; ``entropy`` is used
    as entered (after ``normalize_entropy``), the empty string included.
    """

    unit: str
    pool: Sequence[str]
    entropy: str = ""
    exclusions: Mapping[str, Iterable[str]] = field(default_factory=dict)
    replacements: Sequence[Replacement] = ()


def assignment_entry(a: Assignment) -> dict[str, Any]:
    """The bundle form of an assignment (§3)."""
    return {"task": a.task, "excluded": list(a.excluded), "inspectors": list(a.inspectors),
            "cap_lifted": a.cap_lifted}


def reference_bundle(
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

    Tasks are numbered in ``selected`` order with ``task_code(plan_code, i, total)``. Raises :class:`InsufficientPool` when a
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
                "assignments": [assignment_entry(a) for a in assignments],
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
