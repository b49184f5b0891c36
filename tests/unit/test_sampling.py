"""Tests of the draw protocol xcapp-draw-v1 (xcapp.plans.sampling) and its verifier (xcapp.plans.verify).

Pure tests: no app, no database. The reference implementations below are written
straight from DRAW-PROTOCOL.md with the standard library's ``hmac`` module and hex
digests, so the optimized module is checked against the protocol text.
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import re
import time
from collections import Counter
from itertools import combinations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.draw_reference import Replacement, UnitDraw, reference_bundle
from xcapp.plans import sampling as S
from xcapp.plans.sampling import (
    DEFAULT_RATIOS,
    PROTOCOL,
    RISK_ORDER,
    InsufficientPool,
    Member,
    assign_inspectors,
    class_counts,
    compute_cap,
    enterprise_seed,
    inspector_seed,
    next_replacement,
    normalize_entropy,
    pool_digest,
    population_digest,
    population_lines,
    rank_candidates,
    resolve_entropy,
    sample_size,
    select_enterprises,
)
from xcapp.plans.verify import BundleMismatch, verify_bundle

# ----------------------------------------------------------------- test vector (§4)

TV_CODE = "TV-2023-01"
TV_ENTROPY = "2023-07-10 福彩3D 第2023183期 开奖号码 5 8 2"
TV_POPULATION = [
    ("91411002YNC2W17X7Q", "低", "411002"),
    ("91411081CF3QFEFK03", "低", "411081"),
    ("91411002450AY7D63H", "低", "411002"),
    ("91411081P4PJW3UT06", "低", "411081"),
    ("91411002MXD0NL2D6W", "中", "411002"),
    ("914110816N4QTQJ41M", "中", "411081"),
    ("9141100267MXPLLK03", "中", "411002"),
    ("91411081C911R1K947", "中高", "411081"),
    ("91411002HQJ7680472", "中高", "411002"),
    ("91411081HPUKB5FT4P", "高", "411081"),
    ("91411002FKNYM2YU2G", "高", "411002"),
    ("91411081Y32XTU9L1J", "高", "411081"),
]
TV_DIGEST = "7caee5c9f9d6a6aad988424276b8e39f6de5f2f50c50eadfc59b2a091ff62f0a"
TV_SEED = "55f5efb04e1d9209db04cdf55d447a0a0ef75fc4255dd76e8c597b177fb21cb3"
TV_SELECTED = [
    "91411002YNC2W17X7Q",
    "91411002MXD0NL2D6W",
    "91411002HQJ7680472",
    "91411002FKNYM2YU2G",
    "91411081HPUKB5FT4P",
]
TV_POOL = [f"豫许执0100{i}" for i in range(1, 6)]
TV_POOL_DIGEST = "f4e933d7cad3f58a5909165c85017d78c96aa17ed6de1155a8cb2beb1c187e49"
TV_SEED_U = "f158ca19efdf46978b1227c9203b216a44bc2665f1d48e32b801cc444badaf8a"
TV_TASKS = [(f"TV-2023-01-00{i}", u) for i, u in enumerate(TV_SELECTED[:4], 1)]
TV_EXCLUSIONS = {"TV-2023-01-001": ["豫许执01003"]}
TV_ASSIGNMENTS = [
    ("TV-2023-01-004", ["豫许执01004", "豫许执01003"]),
    ("TV-2023-01-003", ["豫许执01002", "豫许执01004"]),
    ("TV-2023-01-002", ["豫许执01003", "豫许执01005"]),
    ("TV-2023-01-001", ["豫许执01001", "豫许执01002"]),
]


def tv_bundle(replacements=()):
    return reference_bundle(
        plan_code=TV_CODE,
        plan_name="测试向量",
        members=TV_POPULATION,
        entropy=TV_ENTROPY,
        ratios={"低": 10, "中": 20, "中高": 30, "高": 50},
        k=2,
        inspector_draws=[UnitDraw("411002", TV_POOL, "", TV_EXCLUSIONS, tuple(replacements))],
    )


def test_vector_population_digest_and_seed():
    lines = population_lines(TV_POPULATION)
    assert lines.startswith("91411002450AY7D63H\t低\t411002\n")
    assert lines.count("\n") == 12 and lines.endswith("\n")
    assert population_digest(TV_POPULATION) == TV_DIGEST
    assert population_digest([Member(*m) for m in TV_POPULATION]) == TV_DIGEST
    assert enterprise_seed(TV_CODE, TV_DIGEST, TV_ENTROPY) == TV_SEED
    assert class_counts(TV_POPULATION) == {"低": 4, "中": 3, "中高": 2, "高": 3}


def test_vector_selection():
    assert select_enterprises(TV_POPULATION, DEFAULT_RATIOS, TV_SEED) == TV_SELECTED
    shuffled = TV_POPULATION[:]
    random.Random(7).shuffle(shuffled)
    assert population_digest(shuffled) == TV_DIGEST
    assert select_enterprises(shuffled, DEFAULT_RATIOS, TV_SEED) == TV_SELECTED


def test_vector_inspector_draw():
    assert pool_digest(TV_POOL) == TV_POOL_DIGEST
    assert pool_digest(reversed(TV_POOL)) == TV_POOL_DIGEST
    assert inspector_seed(TV_CODE, "411002", TV_POOL_DIGEST, "") == TV_SEED_U
    assert compute_cap(4, 2, 5) == 2
    drawn = assign_inspectors(TV_TASKS, TV_POOL, TV_EXCLUSIONS, 2, TV_SEED_U)
    assert [(a.task, a.inspectors) for a in drawn] == TV_ASSIGNMENTS
    assert [a.excluded for a in drawn] == [[], [], [], ["豫许执01003"]]
    assert not any(a.cap_lifted for a in drawn)
    # Input order of the tasks does not matter: processing is by ascending USCC.
    again = assign_inspectors(list(reversed(TV_TASKS)), TV_POOL, TV_EXCLUSIONS, 2, TV_SEED_U)
    assert again == drawn


def test_vector_bundle_verifies_and_survives_json():
    bundle = tv_bundle()
    assert bundle["protocol"] == PROTOCOL
    assert bundle["population_digest"] == TV_DIGEST
    assert bundle["seed"] == TV_SEED
    assert bundle["selected"] == TV_SELECTED
    assert [t["code"] for t in bundle["tasks"]] == [f"TV-2023-01-00{i}" for i in range(1, 6)]
    (draw,) = bundle["inspector_draws"]
    assert (draw["pool_digest"], draw["seed"], draw["cap"]) == (TV_POOL_DIGEST, TV_SEED_U, 2)
    assert [(a["task"], a["inspectors"]) for a in draw["assignments"]] == TV_ASSIGNMENTS
    verify_bundle(bundle)
    verify_bundle(json.loads(json.dumps(bundle, ensure_ascii=False)))


# ------------------------------------------------------------ reference implementation


def ref_hmac_hex(key: str, msg: str) -> str:
    return hmac.new(key.encode("ascii"), msg.encode("utf-8"), hashlib.sha256).hexdigest()


def ref_select(members, ratios, seed):
    selected = []
    for risk in ("低", "中", "中高", "高"):
        cls = [m[0] for m in members if m[1] == risk]
        n = (len(cls) * ratios[risk] + 99) // 100
        cls.sort(key=lambda u: (ref_hmac_hex(seed, u), u))
        selected += cls[:n]
    return selected


def ref_rank(task, pool, excluded, seed_u):
    cands = [c for c in pool if c not in set(excluded)]
    return sorted(cands, key=lambda c: (ref_hmac_hex(seed_u, task + "|" + c), c))


def ref_assign(tasks, pool, exclusions, k, seed_u):
    cap = (len(tasks) * k + len(pool) - 1) // len(pool)
    count = {c: 0 for c in pool}
    out = []
    for code, _ in sorted(tasks, key=lambda t: t[1]):
        ranked = ref_rank(code, pool, exclusions.get(code, []), seed_u)
        if len(ranked) < k:
            raise InsufficientPool(code, k, len(ranked))
        picked = [c for c in ranked if count[c] < cap][:k]
        lifted = len(picked) < k
        if lifted:
            picked += [c for c in ranked if c not in picked][: k - len(picked)]
        for c in picked:
            count[c] += 1
        out.append((code, sorted(set(exclusions.get(code, []))), picked, lifted))
    return out


ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ids = st.text(ALNUM, min_size=1, max_size=18)
certs = st.text("0123456789豫许执ABC", min_size=1, max_size=8)
seeds = st.text("0123456789abcdef", min_size=64, max_size=64)


@given(key=st.binary(max_size=130), msg=st.binary(max_size=100))
def test_hmac_key_matches_stdlib(key, msg):
    assert S._HmacKey(key).digest(msg) == hmac.new(key, msg, hashlib.sha256).digest()


@given(
    usccs=st.lists(ids, unique=True, max_size=40),
    data=st.data(),
    ratios=st.fixed_dictionaries({r: st.integers(0, 100) for r in RISK_ORDER}),
    seed=seeds,
)
def test_select_matches_reference(usccs, data, ratios, seed):
    members = [(u, data.draw(st.sampled_from(RISK_ORDER)), "411002") for u in usccs]
    assert select_enterprises(members, ratios, seed) == ref_select(members, ratios, seed)


@given(
    pool=st.lists(certs, unique=True, max_size=12),
    excluded=st.lists(certs, max_size=5),
    task=st.text(min_size=1, max_size=20),
    seed=seeds,
)
def test_rank_candidates_matches_reference(pool, excluded, task, seed):
    assert rank_candidates(task, pool, excluded, seed) == ref_rank(task, pool, excluded, seed)


@settings(max_examples=200)
@given(
    pool=st.lists(certs, unique=True, min_size=2, max_size=8),
    usccs=st.lists(ids, unique=True, max_size=25),
    k=st.integers(2, 4),
    seed=seeds,
    data=st.data(),
)
def test_assign_matches_reference(pool, usccs, k, seed, data):
    tasks = [(f"T{i}", u) for i, u in enumerate(usccs)]
    exclusions = {
        code: data.draw(st.lists(st.sampled_from(pool), max_size=3))
        for code, _ in tasks
    }
    try:
        expected = ref_assign(tasks, pool, exclusions, k, seed)
    except InsufficientPool as exc:
        with pytest.raises(InsufficientPool) as got:
            assign_inspectors(tasks, pool, exclusions, k, seed)
        assert (got.value.task_code, got.value.needed, got.value.available) == (
            exc.task_code,
            exc.needed,
            exc.available,
        )
        return
    drawn = assign_inspectors(tasks, pool, exclusions, k, seed)
    assert [(a.task, a.excluded, a.inspectors, a.cap_lifted) for a in drawn] == expected
    # Without a lifted cap nobody exceeds the cap; nobody excluded is ever drawn.
    cap = compute_cap(len(tasks), k, len(pool))
    load = Counter(c for a in drawn for c in a.inspectors)
    if not any(a.cap_lifted for a in drawn):
        assert all(n <= cap for n in load.values())
    for a in drawn:
        assert len(set(a.inspectors)) == k
        assert not set(a.inspectors) & set(a.excluded)


# ------------------------------------------------------------------ entropy, sizes


def test_entropy_is_stripped():
    assert normalize_entropy("  5 8 2\n") == "5 8 2"
    assert normalize_entropy("\u3000开奖 1 2 3\u3000") == "开奖 1 2 3"
    assert enterprise_seed(TV_CODE, TV_DIGEST, f" \t{TV_ENTROPY}\n ") == TV_SEED
    assert inspector_seed(TV_CODE, "411002", TV_POOL_DIGEST, "  ") == TV_SEED_U
    assert resolve_entropy("  abc ") == "abc"
    generated = resolve_entropy("   ")
    assert re.fullmatch(r"[0-9a-f]{64}", generated)
    assert resolve_entropy(None) != resolve_entropy(None)


@pytest.mark.parametrize(
    ("N", "p", "n"),
    [
        (0, 0, 0),
        (0, 50, 0),
        (0, 100, 0),
        (7, 0, 0),
        (7, 100, 7),
        (1, 1, 1),
        (10, 10, 1),
        (11, 10, 2),
        (3, 50, 2),
        (4, 50, 2),
        (99, 1, 1),
        (100, 1, 1),
        (101, 1, 2),
        (150000, 10, 15000),
        (150001, 10, 15001),
    ],
)
def test_sample_size(N, p, n):
    assert sample_size(N, p) == n


@pytest.mark.parametrize(("N", "p"), [(-1, 10), (10, -1), (10, 101)])
def test_sample_size_rejects_out_of_range(N, p):
    with pytest.raises(ValueError):
        sample_size(N, p)


@pytest.mark.parametrize(("N", "p"), [(10.0, 10), (10, 10.5), (True, 10), (10, False), (10, "10")])
def test_sample_size_rejects_non_integers(N, p):
    with pytest.raises(TypeError):
        sample_size(N, p)


def test_selection_with_0_and_100_percent_and_empty_classes():
    members = [(f"U{i:02d}", "低", "411002") for i in range(5)] + [(f"H{i:02d}", "高", "411081") for i in range(4)]
    seed = "0" * 64
    sel = select_enterprises(members, {"低": 0, "中": 100, "中高": 50, "高": 100}, seed)
    assert sorted(sel) == [f"H{i:02d}" for i in range(4)]
    # 100% still lists the class in rank order.
    assert sel == rank_candidates_free(sel, seed)
    assert select_enterprises(members, {"低": 100, "中": 0, "中高": 0, "高": 0}, seed)[0] in {m[0] for m in members}
    assert select_enterprises([], DEFAULT_RATIOS, seed) == []


def rank_candidates_free(usccs, seed):
    return sorted(usccs, key=lambda u: (ref_hmac_hex(seed, u), u))


def test_selection_input_validation():
    seed = "0" * 64
    with pytest.raises(ValueError, match="duplicate"):
        select_enterprises([("A", "低", "1"), ("A", "中", "1")], DEFAULT_RATIOS, seed)
    with pytest.raises(ValueError, match="risk"):
        select_enterprises([("A", "极高", "1")], DEFAULT_RATIOS, seed)
    with pytest.raises(ValueError):
        population_digest([("A\tB", "低", "1")])
    with pytest.raises(ValueError):
        population_digest([("", "低", "1")])
    with pytest.raises(ValueError, match="no ratio"):
        select_enterprises([], {"低": 10}, seed)
    with pytest.raises(ValueError, match="unknown"):
        select_enterprises([], {**DEFAULT_RATIOS, "极高": 5}, seed)
    with pytest.raises(ValueError):
        select_enterprises([], {**DEFAULT_RATIOS, "高": 101}, seed)


# -------------------------------------------------------------- pool and assignments


def test_insufficient_pool_names_task_and_shortfall():
    pool = ["C1", "C2", "C3"]
    tasks = [("T-1", "A"), ("T-2", "B"), ("T-3", "C")]
    with pytest.raises(InsufficientPool) as exc:
        assign_inspectors(tasks, pool, {"T-3": ["C1", "C2"]}, 2, "1" * 64)
    assert (exc.value.task_code, exc.value.needed, exc.value.available) == ("T-3", 2, 1)
    assert str(exc.value) == "任务 T-3 可选检查人员不足：需要 2 人，仅有 1 人"
    with pytest.raises(InsufficientPool) as exc:
        assign_inspectors(tasks, pool, {}, 4, "1" * 64)
    assert (exc.value.task_code, exc.value.needed, exc.value.available) == ("T-1", 4, 3)
    with pytest.raises(InsufficientPool) as exc:
        assign_inspectors(tasks, [], {}, 2, "1" * 64)
    assert str(exc.value) == "任务 T-1 可选检查人员不足：需要 2 人，仅有 0 人"
    # Exclusions outside the pool do not count as candidates lost; no tasks, no failure.
    assert len(assign_inspectors(tasks, pool, {"T-1": ["X9"]}, 3, "1" * 64)) == 3
    assert assign_inspectors([], [], {}, 2, "1" * 64) == []


@pytest.mark.parametrize("k", [0, 1, -2])
def test_k_must_be_at_least_two(k):
    with pytest.raises(ValueError):
        assign_inspectors([("T", "A")], ["C1", "C2", "C3"], {}, k, "1" * 64)


def test_assign_input_validation():
    with pytest.raises(TypeError):
        assign_inspectors([("T", "A")], ["C1", "C2"], {}, True, "1" * 64)
    with pytest.raises(ValueError, match="duplicate certificate"):
        assign_inspectors([("T", "A")], ["C1", "C1", "C2"], {}, 2, "1" * 64)
    with pytest.raises(ValueError, match="duplicate task"):
        assign_inspectors([("T", "A"), ("T", "B")], ["C1", "C2"], {}, 2, "1" * 64)
    with pytest.raises(TypeError):
        assign_inspectors([("T", "A")], ["C1", "C2", "C3"], {"T": "C1"}, 2, "1" * 64)


def test_compute_cap():
    assert compute_cap(4, 2, 5) == 2
    assert compute_cap(5, 2, 5) == 2
    assert compute_cap(6, 2, 5) == 3
    assert compute_cap(1, 2, 10) == 1
    assert compute_cap(0, 2, 3) == 0
    assert compute_cap(0, 2, 0) == 0
    with pytest.raises(ValueError):
        compute_cap(-1, 2, 3)


def test_cap_lifted_when_exclusions_force_it():
    # Three officers, three tasks, k=2: cap = ceil(6/3) = 2. C3 is excluded from the
    # first two tasks (in USCC order), so C1 and C2 reach the cap there; the third task
    # then finds only C3 below the cap and must fill up from the others.
    pool = ["C1", "C2", "C3"]
    tasks = [("T-a", "U1"), ("T-b", "U2"), ("T-c", "U3")]
    seed = "2" * 64
    drawn = assign_inspectors(tasks, pool, {"T-a": ["C3"], "T-b": ["C3"]}, 2, seed)
    assert [a.task for a in drawn] == ["T-a", "T-b", "T-c"]
    assert [sorted(a.inspectors) for a in drawn[:2]] == [["C1", "C2"], ["C1", "C2"]]
    assert [a.cap_lifted for a in drawn] == [False, False, True]
    last = drawn[2]
    ranked_rest = [c for c in rank_candidates("T-c", pool, [], seed) if c != "C3"]
    # C3 (below the cap) is picked first, then the best-ranked officer at the cap.
    assert last.inspectors == ["C3", ranked_rest[0]]


def test_cap_respected_when_possible():
    # Plenty of officers: nobody exceeds the cap and no task is lifted.
    pool = [f"C{i}" for i in range(7)]
    tasks = [(f"T{i:03d}", f"U{i:03d}") for i in range(50)]
    drawn = assign_inspectors(tasks, pool, {}, 2, "3" * 64)
    cap = compute_cap(50, 2, 7)
    assert cap == 15
    assert not any(a.cap_lifted for a in drawn)
    load = Counter(c for a in drawn for c in a.inspectors)
    assert max(load.values()) <= cap
    assert sum(load.values()) == 100


# -------------------------------------------------------------------- replacements


def test_replacement_follows_rank_order_and_ignores_cap():
    task = "TV-2023-01-002"
    ranked = rank_candidates(task, TV_POOL, [], TV_SEED_U)
    assert ranked[:2] == ["豫许执01003", "豫许执01005"]  # the drawn pair, in pick order
    ever = {"豫许执01003", "豫许执01005"}
    order = []
    while (nxt := next_replacement(task, TV_POOL, [], ever, TV_SEED_U)) is not None:
        order.append(nxt)
        ever.add(nxt)
    assert order == ranked[2:]
    # 豫许执01002 already has two tasks (the cap) yet is the first replacement: the cap
    # does not apply to replacements.
    assert order[0] == "豫许执01002"


def test_replacement_skips_excluded_and_previously_assigned():
    task = "TV-2023-01-001"
    ranked_all = rank_candidates(task, TV_POOL, [], TV_SEED_U)
    excluded = ["豫许执01003"]
    assigned = ["豫许执01001", "豫许执01002"]
    expected = [c for c in ranked_all if c not in excluded and c not in assigned][0]
    assert next_replacement(task, TV_POOL, excluded, assigned, TV_SEED_U) == expected
    everyone_else = [c for c in TV_POOL if c not in excluded]
    assert next_replacement(task, TV_POOL, excluded, everyone_else, TV_SEED_U) is None


def test_replacements_in_bundle_are_applied_in_order():
    bundle = tv_bundle(
        [
            Replacement("TV-2023-01-002", "豫许执01003", "病假", "2023-08-01T09:00:00+08:00"),
            # The replacement falls ill too: the next in rank order comes in, never 01003 again.
            Replacement("TV-2023-01-002", "豫许执01002", "后申报回避", "2023-08-02T09:00:00+08:00"),
        ]
    )
    reps = bundle["inspector_draws"][0]["replacements"]
    ranked = rank_candidates("TV-2023-01-002", TV_POOL, [], TV_SEED_U)
    assert [r["in"] for r in reps] == ranked[2:4]
    verify_bundle(bundle)
    # Assignments keep the state as drawn.
    assert bundle["inspector_draws"][0]["assignments"][2]["inspectors"] == ["豫许执01003", "豫许执01005"]
    # Swapping the order of the two replacements breaks the chain.
    swapped = copy.deepcopy(bundle)
    draw = swapped["inspector_draws"][0]
    draw["replacements"] = draw["replacements"][::-1]
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(swapped)
    assert exc.value.path == "inspector_draws[0].replacements[0].out"


def test_reference_bundle_rejects_impossible_replacements():
    with pytest.raises(ValueError, match="not assigned"):
        tv_bundle([Replacement("TV-2023-01-002", "豫许执01001", "病假")])
    with pytest.raises(ValueError, match="reason"):
        tv_bundle([Replacement("TV-2023-01-002", "豫许执01003", "  ")])
    with pytest.raises(ValueError, match="no replacement"):
        tv_bundle(
            [
                Replacement("TV-2023-01-001", "豫许执01001", "病假"),
                Replacement("TV-2023-01-001", "豫许执01002", "病假"),
                Replacement("TV-2023-01-001", "豫许执01004", "病假"),
            ]
        )


# ---------------------------------------------------------- verify_bundle, by example


def mismatch_path(bundle) -> str:
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path in str(exc.value)
    return exc.value.path


def tampered(edit):
    bundle = tv_bundle([Replacement("TV-2023-01-002", "豫许执01003", "病假", "2023-08-01T09:00:00+08:00")])
    verify_bundle(bundle)
    edit(bundle)
    return bundle


def _set(path, value):
    def edit(b):
        obj = b
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (_set(["protocol"], "xcapp-draw-v2"), "protocol"),
        (_set(["plan", "code"], "TV-2023-02"), "seed"),
        (_set(["plan", "ratios", "高"], 101), "plan.ratios.高"),
        (_set(["plan", "ratios", "高"], True), "plan.ratios.高"),
        (lambda b: b["plan"]["ratios"].pop("低"), "plan.ratios.低"),
        (_set(["plan", "ratios", "极高"], 5), "plan.ratios.极高"),
        (_set(["plan", "ratios", "高"], 100), "selected"),
        (_set(["plan", "k"], 1), "plan.k"),
        (_set(["plan", "k"], 3), "inspector_draws[0].cap"),
        (_set(["population", 0, "risk"], "中"), "population_digest"),
        (_set(["population", 0, "risk"], "极高"), "population[0].risk"),
        (lambda b: b["population"].pop(), "population_digest"),
        (lambda b: b["population"].append(dict(b["population"][0])), "population[12].uscc"),
        (_set(["population_digest"], "0" * 64), "population_digest"),
        (_set(["entropy"], TV_ENTROPY + " "), "entropy"),
        (_set(["entropy"], TV_ENTROPY.replace("5 8 2", "5 8 3")), "seed"),
        (_set(["seed"], "0" * 64), "seed"),
        (_set(["selected", 1], "91411002450AY7D63H"), "selected[1]"),
        (lambda b: b["selected"].pop(), "selected"),
        (lambda b: b["selected"].append("91411002450AY7D63H"), "selected"),
        (_set(["tasks", 4, "unit"], "411002"), "tasks[4].unit"),
        (_set(["tasks", 4, "uscc"], "91411002450AY7D63H"), "tasks[4].uscc"),
        (_set(["tasks", 4, "code"], "TV-2023-01-001"), "tasks[4].code"),
        (lambda b: b["tasks"].pop(), "tasks"),
        (_set(["inspector_draws", 0, "pool", 0], "豫许执01009"), "inspector_draws[0].pool_digest"),
        (lambda b: b["inspector_draws"][0]["pool"].pop(), "inspector_draws[0].pool_digest"),
        (_set(["inspector_draws", 0, "entropy"], "x"), "inspector_draws[0].seed"),
        (_set(["inspector_draws", 0, "entropy"], " "), "inspector_draws[0].entropy"),
        (_set(["inspector_draws", 0, "cap"], 3), "inspector_draws[0].cap"),
        (
            _set(["inspector_draws", 0, "assignments", 0, "inspectors"], ["豫许执01003", "豫许执01004"]),
            "inspector_draws[0].assignments[0].inspectors[0]",
        ),
        (
            _set(["inspector_draws", 0, "assignments", 0, "cap_lifted"], True),
            "inspector_draws[0].assignments[0].cap_lifted",
        ),
        (
            _set(["inspector_draws", 0, "assignments", 3, "excluded"], ["豫许执01001"]),
            "inspector_draws[0].assignments[3].inspectors[0]",
        ),
        (
            _set(["inspector_draws", 0, "assignments", 3, "excluded"], ["豫许执01002", "豫许执01003", "豫许执01004", "豫许执01005"]),
            "inspector_draws[0].assignments[3].inspectors[1]",
        ),
        (
            lambda b: b["inspector_draws"][0]["assignments"][3].update(
                excluded=["豫许执01002", "豫许执01003", "豫许执01004", "豫许执01005"], inspectors=["豫外1", "豫外2"]
            ),
            "inspector_draws[0].assignments[3].excluded",
        ),
        (
            _set(["inspector_draws", 0, "assignments", 3, "task"], "TV-2023-01-005"),
            "inspector_draws[0].assignments[3].task",
        ),
        (lambda b: b["inspector_draws"][0]["assignments"].pop(), "inspector_draws[0].assignments"),
        (_set(["inspector_draws", 0, "replacements", 0, "in"], "豫许执01004"), "inspector_draws[0].replacements[0].in"),
        (_set(["inspector_draws", 0, "replacements", 0, "reason"], " "), "inspector_draws[0].replacements[0].reason"),
        (_set(["inspector_draws", 0, "replacements", 0, "out"], "豫许执01001"), "inspector_draws[0].replacements[0].out"),
        (
            _set(["inspector_draws", 0, "replacements", 0, "task"], "TV-2023-01-005"),
            "inspector_draws[0].replacements[0].task",
        ),
        (lambda b: b["inspector_draws"].append(copy.deepcopy(b["inspector_draws"][0])), "inspector_draws[1].unit"),
        (lambda b: b.pop("seed"), "seed"),
    ],
)
def test_verify_names_first_mismatch(edit, path):
    assert mismatch_path(tampered(edit)) == path


def test_verify_accepts_extra_keys_and_other_orders():
    bundle = tv_bundle()
    bundle["generated_at"] = "2023-07-11T08:00:00+08:00"
    bundle["plan"]["deadline"] = "2023-10-31"
    bundle["population"].reverse()
    bundle["tasks"].reverse()
    bundle["inspector_draws"][0]["pool"].reverse()
    bundle["inspector_draws"][0]["assignments"].reverse()
    bundle["inspector_draws"][0]["assignments"][0]["officer_names"] = ["张三", "李四"]
    verify_bundle(bundle)


def test_bundle_mismatch_message():
    err = BundleMismatch("selected[1]", "A", "B")
    assert str(err) == "bundle mismatch at selected[1]: expected 'A', found 'B'"
    assert (err.path, err.expected, err.actual) == ("selected[1]", "A", "B")


# ------------------------------------------------------- verify_bundle, by property

UNITS = ["411002", "411081", "411024"]


@st.composite
def bundles(draw):
    """A random but valid plan: population, ratios, k, entropy, inspector draws, replacements."""
    usccs = draw(st.lists(st.text(ALNUM, min_size=18, max_size=18), min_size=1, max_size=30, unique=True))
    members = [Member(u, draw(st.sampled_from(RISK_ORDER)), draw(st.sampled_from(UNITS))) for u in usccs]
    ratios = {r: draw(st.integers(0, 100)) for r in RISK_ORDER}
    k = draw(st.integers(2, 3))
    entropy = draw(st.text(max_size=30))
    plan_code = draw(st.text(ALNUM + "-", min_size=1, max_size=12))
    base = reference_bundle(plan_code=plan_code, members=members, entropy=entropy, ratios=ratios, k=k)
    units_drawn = draw(st.lists(st.sampled_from(UNITS), unique=True))
    unit_draws = []
    for unit in units_drawn:
        pool = draw(st.lists(certs, min_size=k + 2, max_size=9, unique=True))
        codes = [t["code"] for t in base["tasks"] if t["unit"] == unit]
        exclusions = {
            code: draw(st.lists(st.sampled_from(pool + ["豫外999"]), max_size=2, unique=True))
            for code in codes
        }
        u_entropy = draw(st.text(max_size=10))
        # Valid replacement requests, found by simulating the draw.
        replacements = []
        if codes:
            probe = reference_bundle(
                plan_code=plan_code,
                members=members,
                entropy=entropy,
                ratios=ratios,
                k=k,
                inspector_draws=[UnitDraw(unit, pool, u_entropy, exclusions)],
            )
            state = {a["task"]: a for a in probe["inspector_draws"][0]["assignments"]}
            current = {c: list(a["inspectors"]) for c, a in state.items()}
            ever = {c: set(a["inspectors"]) for c, a in state.items()}
            seed_u = probe["inspector_draws"][0]["seed"]
            for _ in range(draw(st.integers(0, 3))):
                code = draw(st.sampled_from(codes))
                out = draw(st.sampled_from(current[code]))
                new = next_replacement(code, pool, state[code]["excluded"], ever[code], seed_u)
                if new is None:
                    continue
                current[code][current[code].index(out)] = new
                ever[code].add(new)
                replacements.append(Replacement(code, out, draw(st.sampled_from(["病假", "回避", "调离"])), "t"))
        unit_draws.append(UnitDraw(unit, pool, u_entropy, exclusions, tuple(replacements)))
    return reference_bundle(
        plan_code=plan_code,
        members=members,
        entropy=entropy,
        ratios=ratios,
        k=k,
        inspector_draws=unit_draws,
    )


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY
@given(bundle=bundles())
def test_generated_bundles_verify(bundle):
    verify_bundle(bundle)
    verify_bundle(json.loads(json.dumps(bundle)))
    # The bundle agrees with the reference implementation as well.
    members = [(m["uscc"], m["risk"], m["unit"]) for m in bundle["population"]]
    assert bundle["selected"] == ref_select(members, bundle["plan"]["ratios"], bundle["seed"])
    for draw in bundle["inspector_draws"]:
        tasks = [(t["code"], t["uscc"]) for t in bundle["tasks"] if t["unit"] == draw["unit"]]
        exclusions = {a["task"]: a["excluded"] for a in draw["assignments"]}
        expected = ref_assign(tasks, draw["pool"], exclusions, bundle["plan"]["k"], draw["seed"]) if tasks else []
        assert [(a["task"], a["excluded"], a["inspectors"], a["cap_lifted"]) for a in draw["assignments"]] == expected


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_altered_selected_entry_is_rejected(bundle, data):
    assume(bundle["selected"])
    i = data.draw(st.integers(0, len(bundle["selected"]) - 1))
    old = bundle["selected"][i]
    others = [m["uscc"] for m in bundle["population"] if m["uscc"] != old]
    new = data.draw(st.sampled_from(others) if others and data.draw(st.booleans()) else ids)
    assume(new != old)
    bundle["selected"][i] = new
    with pytest.raises(BundleMismatch):
        verify_bundle(bundle)


@PROPERTY
@given(bundle=bundles(), entropy=st.text(max_size=30))
def test_altered_entropy_is_rejected(bundle, entropy):
    assume(entropy != bundle["entropy"])
    bundle["entropy"] = entropy
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path in ("entropy", "seed")


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_altered_population_line_is_rejected(bundle, data):
    i = data.draw(st.integers(0, len(bundle["population"]) - 1))
    field = data.draw(st.sampled_from(["uscc", "risk", "unit"]))
    line = bundle["population"][i]
    if field == "uscc":
        taken = {m["uscc"] for m in bundle["population"]}
        new = data.draw(ids.filter(lambda u: u not in taken))
    elif field == "risk":
        new = data.draw(st.sampled_from([r for r in RISK_ORDER if r != line["risk"]]))
    else:
        new = data.draw(st.text("0123456789", min_size=6, max_size=6).filter(lambda u: u != line["unit"]))
    line[field] = new
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path == "population_digest"


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_altered_pool_entry_is_rejected(bundle, data):
    assume(bundle["inspector_draws"])
    j = data.draw(st.integers(0, len(bundle["inspector_draws"]) - 1))
    pool = bundle["inspector_draws"][j]["pool"]
    i = data.draw(st.integers(0, len(pool) - 1))
    pool[i] = data.draw(certs.filter(lambda c: c not in pool))
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path == f"inspector_draws[{j}].pool_digest"


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_altered_assignment_is_rejected(bundle, data):
    draws = [(j, d) for j, d in enumerate(bundle["inspector_draws"]) if d["assignments"]]
    assume(draws)
    j, draw = data.draw(st.sampled_from(draws))
    i = data.draw(st.integers(0, len(draw["assignments"]) - 1))
    a = draw["assignments"][i]
    how = data.draw(st.sampled_from(["cap_lifted", "reverse", "swap_in", "drop", "add"]))
    if how == "cap_lifted":
        a["cap_lifted"] = not a["cap_lifted"]
    elif how == "reverse":
        a["inspectors"].reverse()
    elif how == "swap_in":
        n = data.draw(st.integers(0, len(a["inspectors"]) - 1))
        a["inspectors"][n] = data.draw(st.sampled_from([c for c in draw["pool"] if c not in a["inspectors"]]))
    elif how == "drop":
        a["inspectors"].pop()
    else:
        a["inspectors"].append(data.draw(st.sampled_from([c for c in draw["pool"] if c not in a["inspectors"]])))
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path.startswith(f"inspector_draws[{j}].assignments[")


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_altered_replacement_is_rejected(bundle, data):
    draws = [(j, d) for j, d in enumerate(bundle["inspector_draws"]) if d["replacements"]]
    assume(draws)
    j, draw = data.draw(st.sampled_from(draws))
    i = data.draw(st.integers(0, len(draw["replacements"]) - 1))
    r = draw["replacements"][i]
    r["in"] = data.draw(st.sampled_from([c for c in draw["pool"] + ["豫外999"] if c != r["in"]]))
    with pytest.raises(BundleMismatch) as exc:
        verify_bundle(bundle)
    assert exc.value.path.startswith(f"inspector_draws[{j}].replacements[")


# ------------------------------------------------------------------- uniformity
#
# Deterministic chi-square tests: fixed seeds, so the outcome never changes between runs.
# Critical values are upper 0.1 % points of the chi-square distribution (standard tables).
CHI2_999 = {4: 18.467, 6: 22.458, 9: 27.877, 19: 43.820}
TRIALS = 2000


def trial_seeds(label: str):
    return [hashlib.sha256(f"{label}-{i}".encode()).hexdigest() for i in range(TRIALS)]


def srswor_chi2(counts: list[int], n: int, trials: int) -> float:
    """Chi-square statistic for how often each of N members was drawn, n of N per trial.

    Each count is Binomial(trials, q) with q = n/N, and two members' counts have covariance
    -trials*q*(1-q)/(N-1) (sampling without replacement). Hence
    sum((O - E)^2 / (trials*q*(1-q))) is distributed as N/(N-1) times chi-square with N-1
    degrees of freedom, and the statistic returned, scaled by (N-1)/N, is chi-square(N-1).
    For n = 1 this is exactly Pearson's statistic for a multinomial.
    """
    N = len(counts)
    q = n / N
    expected = trials * q
    return sum((o - expected) ** 2 for o in counts) / (trials * q * (1 - q)) * (N - 1) / N


def test_enterprise_selection_is_uniform_within_each_class():
    population = (
        [(f"L{i:02d}", "低", "411002") for i in range(10)]  # 10%  -> n = 1 of 10
        + [(f"M{i:02d}", "中", "411081") for i in range(20)]  # 30% -> n = 6 of 20
        + [(f"X{i:02d}", "中高", "411024") for i in range(7)]  # 50% -> n = 4 of 7
        + [(f"H{i:02d}", "高", "411002") for i in range(3)]  # 100% -> all 3
    )
    ratios = {"低": 10, "中": 30, "中高": 50, "高": 100}
    hits: Counter[str] = Counter()
    for seed in trial_seeds("enterprises"):
        selected = select_enterprises(population, ratios, seed)
        assert len(selected) == 1 + 6 + 4 + 3
        hits.update(selected)
    for prefix, N, n in (("L", 10, 1), ("M", 20, 6), ("X", 7, 4)):
        counts = [hits[f"{prefix}{i:02d}"] for i in range(N)]
        assert sum(counts) == TRIALS * n
        assert srswor_chi2(counts, n, TRIALS) < CHI2_999[N - 1], (prefix, counts)
    assert all(hits[f"H{i:02d}"] == TRIALS for i in range(3))


def test_inspector_draw_is_uniform():
    # One task, five officers, k = 2: the first pick is uniform over 5 officers (df 4)
    # and the pair is uniform over the 10 unordered pairs (df 9, multinomial).
    pool = [f"豫许执0100{i}" for i in range(1, 6)]
    first: Counter[str] = Counter()
    pairs: Counter[frozenset[str]] = Counter()
    for seed in trial_seeds("inspectors"):
        (a,) = assign_inspectors([("T-001", "U1")], pool, {}, 2, seed)
        first[a.inspectors[0]] += 1
        pairs[frozenset(a.inspectors)] += 1
    assert srswor_chi2([first[c] for c in pool], 1, TRIALS) < CHI2_999[4]
    all_pairs = [frozenset(p) for p in combinations(pool, 2)]
    assert srswor_chi2([pairs[p] for p in all_pairs], 1, TRIALS) < CHI2_999[9]


def test_chi2_helper_detects_bias():
    # Sanity check of the statistic itself: a visibly biased selection fails.
    counts = [300] + [188] * 8 + [196]  # n = 1 of 10, 2000 trials, one member favoured
    assert sum(counts) == TRIALS
    assert srswor_chi2(counts, 1, TRIALS) > CHI2_999[9]
    assert srswor_chi2([200] * 10, 1, TRIALS) == 0


# -------------------------------------------------------------------- performance


@pytest.mark.slow
def test_large_draw_is_fast():
    """150,000 enterprises and about 30,000 tasks (pools of 10 per unit) in little CPU time.

    Typical figures are about 0.4 s for the enterprise draw and 0.35 s for the inspector
    draws; the bound is generous so that only a gross regression (for example quadratic
    work) fails on a slow machine.
    """
    rng = random.Random(1)
    units = ["411002", "411003", "411081", "411082", "411024", "411025", "411071", "411072", "411073"]
    risks = ["低"] * 5 + ["中"] * 3 + ["中高"] + ["高"]  # 75,000 / 45,000 / 15,000 / 15,000
    population = [Member(f"9141{i:014d}", risks[i % 10], rng.choice(units)) for i in range(150000)]
    ratios = {"低": 20, "中": 20, "中高": 20, "高": 20}
    start = time.process_time()
    digest = population_digest(population)
    selected = select_enterprises(population, ratios, enterprise_seed("PERF", digest, "x"))
    unit_of = {m.uscc: m.unit for m in population}
    tasks_by_unit: dict[str, list[tuple[str, str]]] = {u: [] for u in units}
    for i, uscc in enumerate(selected):
        tasks_by_unit[unit_of[uscc]].append((f"PERF-{i:06d}", uscc))
    total = 0
    for unit, tasks in tasks_by_unit.items():
        pool = [f"豫许执{unit}{x:02d}" for x in range(10)]
        seed_u = inspector_seed("PERF", unit, pool_digest(pool), "")
        total += len(assign_inspectors(tasks, pool, {}, 2, seed_u))
    elapsed = time.process_time() - start
    assert len(selected) == total == 30000
    assert elapsed < 4.0, elapsed


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 200) | st.text(max_size=5) | st.just("\ud800"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


def _containers(obj, path=()):
    """Every (container, key) pair of a JSON document."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        yield obj, key, path + (key,)
        yield from _containers(value, path + (key,))


@PROPERTY
@given(bundle=bundles(), data=st.data())
def test_malformed_bundles_raise_only_bundle_mismatch(bundle, data):
    # Whatever a (possibly hostile) bundle holds, verification either passes or reports a
    # BundleMismatch; it never crashes with another exception.
    for _ in range(data.draw(st.integers(1, 3))):
        spots = list(_containers(bundle))
        container, key, _ = data.draw(st.sampled_from(spots))
        if data.draw(st.booleans()):
            container[key] = data.draw(JSON_VALUES)
        elif isinstance(container, dict):
            del container[key]
        else:
            container.pop(key)
    try:
        verify_bundle(bundle)
    except BundleMismatch:
        pass
