"""The verifier of the draw protocol ``xcapp-draw-v1`` (§3 of ``DRAW-PROTOCOL.md``).

:func:`verify_bundle` recomputes a plan's draws from its published bundle alone, with the
pure functions of :mod:`xcapp.plans.sampling`, and raises :class:`BundleMismatch` at the
first difference. Like the protocol it uses no Flask, no database and no clock.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .sampling import (
    MIN_INSPECTORS,
    PROTOCOL,
    RISK_ORDER,
    Assignment,
    DrawError,
    InsufficientPool,
    Member,
    assign_inspectors,
    compute_cap,
    enterprise_seed,
    inspector_seed,
    next_replacement,
    normalize_entropy,
    pool_digest,
    population_digest,
    select_enterprises,
)

__all__ = ["BundleMismatch", "verify_bundle"]


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
