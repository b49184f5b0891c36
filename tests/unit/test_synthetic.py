"""Unit tests for xcapp.demo.synthetic (pure; no app fixtures)."""
from __future__ import annotations

import datetime as dt
import gc
import re
from collections import Counter

import pytest

from xcapp.demo import synthetic as s
from xcapp.registry.validation import validate_licence_no, validate_phone, validate_uscc
from xcapp.registry.vocab import LicenceState, ProductionState, RiskClass

UNITS = ["411002", "411003", "411081", "411082", "411024", "411025", "411071", "411072", "411073"]
OFFICER_UNITS = ["411000"] + UNITS
CATEGORIES = ["水泥", "危险化学品", "危险化学品包装物及容器", "电线电缆", "化肥", "食品相关产品",
              "建筑用钢筋", "人民币鉴别仪", "广播电视传输设备", "预应力混凝土铁路桥简支梁"]
TODAY = dt.date(2023, 7, 1)

ENTERPRISE_KEYS = {"name", "uscc", "address", "production_address", "legal_rep", "contact", "phone",
                   "licence_no", "issue_date", "expiry_date", "category", "product_scope", "unit", "risk",
                   "production_state", "licence_state", "equipment"}
OFFICER_KEYS = {"name", "unit", "position", "phone", "cert_no", "cert_expiry", "active", "specialty"}
NAME_SUFFIXES = ("有限公司", "有限责任公司", "股份有限公司", "厂", "专业合作社")
CJK_ONLY = re.compile(r"^[\u4e00-\u9fff]+$")


@pytest.fixture(scope="module")
def ents():
    return s.generate_enterprises(2000, UNITS, CATEGORIES, seed=42, today=TODAY)


@pytest.fixture(scope="module")
def officers():
    return s.generate_officers(2000, OFFICER_UNITS, CATEGORIES, seed=42, today=TODAY)


def share(rows, key, value):
    return sum(1 for r in rows if r[key] == value) / len(rows)


# ---------------------------------------------------------------------------
# Enterprises
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 7, 100, 500])
def test_enterprise_sizes(n):
    rows = s.generate_enterprises(n, UNITS, CATEGORIES, seed=1, today=TODAY)
    assert len(rows) == n
    assert all(set(r) == ENTERPRISE_KEYS for r in rows)


def test_enterprises_deterministic():
    a = s.generate_enterprises(300, UNITS, CATEGORIES, seed=5, today=TODAY)
    b = s.generate_enterprises(300, UNITS, CATEGORIES, seed=5, today=TODAY)
    c = s.generate_enterprises(300, UNITS, CATEGORIES, seed=6, today=TODAY)
    assert a == b
    assert a != c


def test_enterprise_uniqueness(ents):
    for key in ("name", "uscc", "licence_no"):
        assert len({r[key] for r in ents}) == len(ents), key


def test_enterprise_uniqueness_large():
    rows = s.generate_enterprises(20000, UNITS, CATEGORIES, seed=3, today=TODAY)
    for key in ("name", "uscc", "licence_no"):
        assert len({r[key] for r in rows}) == len(rows), key


def test_codes_and_phones_validate(ents):
    for r in ents:
        assert validate_uscc(r["uscc"]) == r["uscc"]
        assert validate_licence_no(r["licence_no"]) == r["licence_no"]
        assert validate_phone(r["phone"]) == r["phone"]
        assert re.fullmatch(r"1[3-9]\d{9}|0374-[2-9]\d{6}", r["phone"])


def test_uscc_structure(ents):
    for r in ents:
        code = r["uscc"]
        assert len(code) == 18
        assert code[:2] in ("91", "92", "93")
        assert code[2:8] == s.area_code_for_unit(r["unit"])
        assert all(c in "0123456789ABCDEFGHJKLMNPQRTUWXY" for c in code)
    kinds = Counter(r["uscc"][:2] for r in ents)
    assert kinds["91"] / len(ents) > 0.93
    assert kinds["92"] + kinds["93"] > 0


def test_area_codes():
    assert s.area_code_for_unit("411081") == "411081"
    assert s.area_code_for_unit("411002") == "411002"
    assert s.area_code_for_unit("411071") == "411000"
    assert s.area_code_for_unit("411073") == "411000"
    assert s.area_code_for_unit("X1") == "411000"


def test_licence_number_matches_category(ents):
    codes = {}
    for r in ents:
        assert r["licence_no"].startswith("豫XK")
        codes.setdefault(r["category"], set()).add(r["licence_no"][3:5])
    assert codes["电线电缆"] == {"06"}
    assert codes["水泥"] == {"08"}
    assert codes["食品相关产品"] == {"16"}
    assert all(len(v) == 1 for v in codes.values())


def test_dates(ents):
    for r in ents:
        issue, expiry = r["issue_date"], r["expiry_date"]
        assert isinstance(issue, dt.date) and isinstance(expiry, dt.date)
        assert expiry > issue
        assert issue <= TODAY
        # valid five years: 有效期至 = 发证日期 + 5 年 − 1 天
        assert s._add_years(issue, 5) - dt.timedelta(days=1) == expiry
        assert 365 * 5 - 1 <= (expiry - issue).days <= 365 * 5 + 1
    expired = sum(r["expiry_date"] < TODAY for r in ents) / len(ents)
    soon = sum(TODAY <= r["expiry_date"] < TODAY + dt.timedelta(days=90) for r in ents) / len(ents)
    assert 0.03 <= expired <= 0.07
    assert 0.03 <= soon <= 0.07


def test_risk_distribution(ents):
    for level, expected in (("低", 0.40), ("中", 0.35), ("中高", 0.17), ("高", 0.08)):
        assert abs(share(ents, "risk", level) - expected) < 0.04, level
    assert {r["risk"] for r in ents} == set(RiskClass)


def test_state_distributions(ents):
    assert {r["production_state"] for r in ents} <= set(ProductionState)
    assert {r["licence_state"] for r in ents} <= set(LicenceState)
    assert share(ents, "production_state", "正常生产") > 0.88
    assert share(ents, "production_state", "停产") > 0.01
    assert share(ents, "production_state", "转产") > 0.003
    assert share(ents, "licence_state", "有效") > 0.975
    for state in ("注销", "吊销", "撤销"):
        assert share(ents, "licence_state", state) < 0.01


def test_unit_and_category_spread(ents):
    units = Counter(r["unit"] for r in ents)
    assert set(units) == set(UNITS)
    assert {u for u, _ in units.most_common(2)} == {"411081", "411082"}
    cats = Counter(r["category"] for r in ents)
    assert set(cats) == set(CATEGORIES)
    assert cats.most_common(1)[0][0] == "食品相关产品"
    for common in ("食品相关产品", "危险化学品", "电线电缆"):
        assert cats[common] > cats["人民币鉴别仪"] * 3
        assert cats[common] > cats["预应力混凝土铁路桥简支梁"] * 3


def test_every_unit_and_category_present_when_n_allows():
    rows = s.generate_enterprises(len(UNITS) + len(CATEGORIES), UNITS, CATEGORIES, seed=9, today=TODAY)
    assert {r["unit"] for r in rows} == set(UNITS)
    assert {r["category"] for r in rows} == set(CATEGORIES)


def test_names_look_real(ents):
    for r in ents:
        name = r["name"]
        assert not re.search(r"\d", name), name
        assert CJK_ONLY.match(name), name
        assert name.endswith(NAME_SUFFIXES), name
        assert 6 <= len(name) <= 40, name
        for person in (r["legal_rep"], r["contact"]):
            assert CJK_ONLY.match(person) and 2 <= len(person) <= 3, person
    places = Counter(next((p for p in ("许昌", "禹州", "长葛", "鄢陵", "襄城", "河南") if r["name"].startswith(p)), "")
                     for r in ents)
    assert places[""] == 0
    assert places["禹州"] > 0 and places["长葛"] > 0 and places["许昌"] > 0


def test_addresses(ents):
    for r in ents:
        assert r["address"].startswith("河南省")
        assert r["production_address"].startswith("河南省")
        assert len(r["address"]) <= 200
    assert any(r["address"] != r["production_address"] for r in ents)


def test_product_scope_and_equipment(ents):
    for r in ents:
        assert r["product_scope"]
        assert 2 <= len(r["equipment"]) <= 6
        names = [e["name"] for e in r["equipment"]]
        assert len(set(names)) == len(names)
        for e in r["equipment"]:
            assert set(e) == {"name", "model", "quantity"}
            assert e["name"] and e["model"]
            assert isinstance(e["quantity"], int) and e["quantity"] >= 1
    cable = next(r for r in ents if r["category"] == "电线电缆")
    assert set(cable["product_scope"].split("；")) <= {u for _, u in s.category_profile("电线电缆").units}
    cement_equipment = {e["name"] for r in ents if r["category"] == "水泥" for e in r["equipment"]}
    assert "回转窑" in cement_equipment
    food_equipment = {e["name"] for r in ents if r["category"] == "食品相关产品" for e in r["equipment"]}
    assert {"吹膜机", "制袋机"} <= food_equipment


@pytest.mark.parametrize("n", [3, 100, 2000])
def test_rare_characters_in_enterprises(n):
    rows = s.generate_enterprises(n, UNITS, CATEGORIES, seed=11, today=TODAY)
    text = "".join(r["name"] + r["legal_rep"] for r in rows)
    for ch in "喆堃玥":
        assert ch in text, ch
    with_rare = [r for r in rows if any(ch in r["name"] for ch in "喆堃玥")]
    assert len(with_rare) >= 3


def test_custom_categories_and_units():
    cats = ["化肥（复肥）", "直接接触食品的材料等相关产品", "某新产品"]
    rows = s.generate_enterprises(200, ["411081", "999999", "abc"], cats, seed=2, today=TODAY)
    assert {r["category"] for r in rows} == set(cats)
    for r in rows:
        validate_licence_no(r["licence_no"])
        validate_uscc(r["uscc"])
    new = [r for r in rows if r["category"] == "某新产品"]
    assert all(r["product_scope"] == "某新产品" for r in new)
    assert s.category_profile("化肥（复肥）").key == "fertiliser"
    assert s.category_profile("直接接触食品的材料等相关产品").key == "food"
    assert s.category_profile("危险化学品包装物及容器").key == "hazpack"
    # An unknown category gets the generic profile, with an XK code of its own (30-99, clear of
    # the real categories' codes) that its generated licence numbers carry.
    generic = s.category_profile("某新产品")
    assert generic.key == "generic"
    assert 30 <= int(generic.code) <= 99
    assert generic.code not in {s.category_profile(c).code for c in CATEGORIES}
    assert new and all(r["licence_no"].startswith(f"豫XK{generic.code}-001-") for r in new)


def test_default_today_and_bad_input():
    rows = s.generate_enterprises(3, UNITS, CATEGORIES, seed=1)
    assert all(r["issue_date"] <= dt.date.today() for r in rows)
    with pytest.raises(ValueError):
        s.generate_enterprises(-1, UNITS, CATEGORIES)
    with pytest.raises(ValueError):
        s.generate_enterprises(3, [], CATEGORIES)
    with pytest.raises(ValueError):
        s.generate_enterprises(3, UNITS, [])


def test_gc_state_restored():
    assert gc.isenabled()
    s.generate_enterprises(10, UNITS, CATEGORIES, seed=1, today=TODAY)
    s.generate_officers(10, UNITS, CATEGORIES, seed=1, today=TODAY)
    assert gc.isenabled()
    gc.disable()
    try:
        s.generate_enterprises(10, UNITS, CATEGORIES, seed=1, today=TODAY)
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------------------
# Officers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 5, 60, 2000])
def test_officer_sizes(n):
    rows = s.generate_officers(n, OFFICER_UNITS, CATEGORIES, seed=1, today=TODAY)
    assert len(rows) == n
    assert all(set(r) == OFFICER_KEYS for r in rows)


def test_officers_deterministic():
    a = s.generate_officers(100, OFFICER_UNITS, CATEGORIES, seed=5, today=TODAY)
    b = s.generate_officers(100, OFFICER_UNITS, CATEGORIES, seed=5, today=TODAY)
    c = s.generate_officers(100, OFFICER_UNITS, CATEGORIES, seed=6, today=TODAY)
    assert a == b
    assert a != c


def test_officer_uniqueness_and_formats(officers):
    assert len({r["cert_no"] for r in officers}) == len(officers)
    assert len({r["name"] for r in officers}) == len(officers)
    for r in officers:
        assert re.fullmatch(r"豫许执\d{2}\d{3,5}", r["cert_no"]), r["cert_no"]
        assert len(r["cert_no"]) <= 20
        assert r["cert_no"][3:5] == r["unit"][-2:]
        assert re.fullmatch(r"1[3-9]\d{9}", r["phone"])
        assert validate_phone(r["phone"]) == r["phone"]
        assert CJK_ONLY.match(r["name"]) and 2 <= len(r["name"]) <= 3
        assert r["unit"] in OFFICER_UNITS
        assert r["specialty"] is None or r["specialty"] in CATEGORIES
        assert isinstance(r["active"], bool)
        assert r["position"]


def test_officer_uniqueness_large():
    rows = s.generate_officers(15000, OFFICER_UNITS, CATEGORIES, seed=3, today=TODAY)
    assert len({r["cert_no"] for r in rows}) == len(rows)
    assert max(len(r["cert_no"]) for r in rows) <= 20


def test_officer_distributions(officers):
    inactive = sum(not r["active"] for r in officers) / len(officers)
    assert 0.025 <= inactive <= 0.08
    expired = sum(r["cert_expiry"] < TODAY for r in officers) / len(officers)
    before_deadline = sum(TODAY <= r["cert_expiry"] <= dt.date(2023, 10, 31) for r in officers) / len(officers)
    later = sum(TODAY + dt.timedelta(days=730) <= r["cert_expiry"] <= TODAY + dt.timedelta(days=5 * 365 + 1)
                for r in officers) / len(officers)
    assert 0.01 <= expired <= 0.06
    assert 0.02 <= before_deadline <= 0.07
    assert later > 0.88
    with_specialty = sum(r["specialty"] is not None for r in officers) / len(officers)
    assert 0.6 < with_specialty < 0.8
    positions = Counter(r["position"] for r in officers)
    assert positions.most_common(1)[0][0] == "科员"
    assert {"副科长", "科长", "所长", "副局长"} <= set(positions)


def test_every_unit_has_two_officers():
    rows = s.generate_officers(len(OFFICER_UNITS) * 2, OFFICER_UNITS, CATEGORIES, seed=4, today=TODAY)
    counts = Counter(r["unit"] for r in rows)
    assert all(counts[u] == 2 for u in OFFICER_UNITS)
    rows = s.generate_officers(60, OFFICER_UNITS, CATEGORIES, seed=4, today=TODAY)
    counts = Counter(r["unit"] for r in rows)
    assert all(counts[u] >= 2 for u in OFFICER_UNITS)


@pytest.mark.parametrize("n", [50, 60, 2000])
def test_rare_characters_in_officers(n):
    rows = s.generate_officers(n, OFFICER_UNITS, CATEGORIES, seed=13, today=TODAY)
    names = "".join(r["name"] for r in rows)
    for ch in "喆堃玥昇":
        assert ch in names, ch


def test_officers_without_categories():
    rows = s.generate_officers(20, OFFICER_UNITS, [], seed=1, today=TODAY)
    assert all(r["specialty"] is None for r in rows)


def test_officers_after_inspection_season():
    late = dt.date(2023, 12, 1)
    rows = s.generate_officers(500, OFFICER_UNITS, CATEGORIES, seed=1, today=late)
    assert all(r["cert_expiry"] > late - dt.timedelta(days=366) for r in rows)
    assert any(late <= r["cert_expiry"] < late + dt.timedelta(days=90) for r in rows)
