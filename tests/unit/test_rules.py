"""Unit tests for xcapp.inspections.rules (pure; no app fixtures)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xcapp.inspections import rules as r
from xcapp.inspections.rules import (
    CONFORM,
    FAIL,
    NONCONFORM,
    NOT_APPLICABLE,
    PASS,
    AnswerValue,
    ExtraRowValue,
)

# The form's wording travels with the tests: a fresh clone of the repository alone runs them.
TESTS = Path(__file__).resolve().parents[1]
FORM = TESTS / "data" / "form_2023_xuchang.txt"
CHECKBOX = '<input type="checkbox"/>'


@pytest.fixture(scope="module")
def seed_text() -> str:
    """The attachment of the 2023 plan (the 12 items and the two notes), header lines dropped."""
    text = FORM.read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def test_project_reads_nothing_outside_the_repository():
    """Code and tests never reach for a folder beside the repository (issue 11.18)."""
    root = TESTS.parent
    needles = ("shared" + "/", "parents" + "[3]", ".." + "/shared")
    offenders = []
    for folder in ("xcapp", "templates", "static", "tests", "bench", "tools", "migrations"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".py", ".html", ".txt", ".toml", ".cfg", ".ini", ".js") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            offenders += [f"{path.relative_to(root)}: {needle}" for needle in needles if needle in text]
    for name in ("pyproject.toml", "Makefile", "wsgi.py", "conftest.py"):
        path = root / name
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            offenders += [f"{name}: {needle}" for needle in needles if needle in text]
    assert not offenders


@pytest.fixture(scope="module")
def seed_rows(seed_text) -> dict[int, list[str]]:
    rows = {}
    for line in seed_text.splitlines():
        m = re.match(r"^(\d+)\t", line)
        if m:
            rows[int(m.group(1))] = line.split("\t")
    assert sorted(rows) == list(range(1, 13))
    return rows


def _boxes(cell: str) -> list[str]:
    return [p.strip() for p in cell.split(CHECKBOX)[1:]]


# ---------------------------------------------------------------------------
# Verbatim wording against the seed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("no", range(1, 13))
def test_item_text_verbatim(seed_rows, no):
    assert r.ALL_ITEMS[no].text == seed_rows[no][1]
    assert r.ALL_ITEMS[no].no == no


@pytest.mark.parametrize("no", range(1, 12))
def test_record_option_labels_verbatim(seed_rows, no):
    """Checkbox labels of the 检查记录 column, nesting included."""
    boxes = _boxes(seed_rows[no][2])
    item = r.ITEMS[no]
    expected = []  # (label, parent label)
    parent = None
    for box in boxes:
        if box.endswith("（"):
            parent = box[:-1]
            expected.append((parent, None))
            continue
        closes = box.endswith("）")
        expected.append((box.rstrip("）"), parent))
        if closes:
            parent = None
    got = [(o.label, item.option(o.parent).label if o.parent else None) for o in item.options]
    assert got == expected


@pytest.mark.parametrize("no", range(1, 12))
def test_allowed_conclusions_match_form(seed_rows, no):
    labels = _boxes(seed_rows[no][3])
    assert [r.CONCLUSION_LABELS[c] for c in r.ITEMS[no].conclusions] == labels


def test_na_items():
    assert [n for n, i in r.ITEMS.items() if i.allows_na] == [4, 5, 9, 10]
    assert r.ITEM_12.allows_na


def test_notes_verbatim(seed_text):
    assert f"注：1. {r.NOTE_1}" in seed_text
    assert f"2. {r.NOTE_2}" in seed_text


def test_overall_labels_match_form(seed_text):
    line = next(l for l in seed_text.splitlines() if l.startswith("检查结论"))
    assert _boxes(line) == [r.OVERALL_LABELS[PASS], r.OVERALL_LABELS[FAIL]]


def test_codes_are_stable_ascii_and_unique():
    ascii_code = re.compile(r"^[a-z][a-z0-9_]*$")
    for item in r.ALL_ITEMS.values():
        codes = [o.code for o in item.options]
        assert len(codes) == len(set(codes))
        assert all(ascii_code.match(c) for c in codes)
    for choices in (r.EQUIPMENT_STATUSES, r.NOT_INSPECTED_REASONS):
        codes = [c.code for c in choices]
        assert len(codes) == len(set(codes)) and all(ascii_code.match(c) for c in codes)
    assert all(ascii_code.match(c) for c in r.CONCLUSIONS + (r.PASS, r.FAIL))


def test_dataclasses_are_frozen():
    with pytest.raises(AttributeError):
        r.ITEMS[1].text = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        r.ITEMS[1].options[0].nonconform = True  # type: ignore[misc]


# ---------------------------------------------------------------------------
# Proposed conclusions
# ---------------------------------------------------------------------------

NONCONFORM_LABELS = {
    1: {"不在有效期"},
    2: {"发生变化未申请重新审查"},
    3: {"存在"},
    4: {"未标注"},
    5: {"无效"},
    6: {"未进行检验", "检验记录不全"},
    7: {"已建立未执行", "未建立"},
    8: {"否"},
    9: {"不符合"},
    10: {"未处理"},
    11: {"涂改转让", "生产假冒伪劣", "其他违法行为"},
}


@pytest.mark.parametrize("no", range(1, 12))
def test_proposed_conclusion_every_leaf(no):
    item = r.ITEMS[no]
    for opt in item.leaf_options:
        expected = NONCONFORM if opt.label in NONCONFORM_LABELS[no] else CONFORM
        assert r.proposed_conclusion(no, opt.code) == expected, (no, opt.label)
    assert {o.label for o in item.options if o.nonconform} == NONCONFORM_LABELS[no]


def test_proposed_conclusion_empty_invalid_and_parent():
    assert r.proposed_conclusion(1, None) is None
    assert r.proposed_conclusion(1, "") is None
    assert r.proposed_conclusion(1, "bogus") is None
    assert r.proposed_conclusion(10, "has") is None  # parent alone is not a choice
    assert r.proposed_conclusion(10, "has,has_unhandled") == NONCONFORM  # parent implied
    assert r.proposed_conclusion(10, ["has_handled"]) == CONFORM
    with pytest.raises(ValueError):
        r.proposed_conclusion(12, "none")
    with pytest.raises(ValueError):
        r.proposed_conclusion(0, "x")


def test_item11_multiple_violations():
    assert r.proposed_conclusion(11, ("has_altered", "has_other")) == NONCONFORM
    assert r.proposed_conclusion(11, "has_other,has_altered") == NONCONFORM
    assert r.normalize_record(11, "has_other,has_altered,has") == ("has_altered", "has_other")
    assert r.record_label(11, "has_other,has_altered") == "有（涂改转让、其他违法行为）"
    assert r.record_label(10, "has_unhandled") == "有（未处理）"
    assert r.record_label(2, "unchanged") == "未发生变化"
    assert r.record_to_str(r.normalize_record(11, ["has_other", "has_counterfeit"])) == \
        "has_counterfeit,has_other"


# ---------------------------------------------------------------------------
# Validation and warnings
# ---------------------------------------------------------------------------


def test_validate_valid_answers():
    assert r.validate_answer(1, "valid", CONFORM) == []
    assert r.validate_answer(1, "expired", NONCONFORM) == []
    assert r.validate_answer(4, None, NOT_APPLICABLE) == []
    assert r.validate_answer(10, "none", NOT_APPLICABLE) == []
    assert r.validate_answer(3, "exists", None) == []  # incomplete, not invalid
    assert r.validate_answer(3, None, None) == []


def test_validate_errors():
    assert r.validate_answer(13, "x", CONFORM) == ["检查项目序号无效：13"]
    assert r.validate_answer(12, "none", CONFORM) == ["检查项目序号无效：12"]
    assert r.validate_answer(1, "bogus", CONFORM) == ["第1项：检查记录选项无效：bogus"]
    assert r.validate_answer(1, "valid", "maybe") == ["第1项：单项检查结论无效：maybe"]
    assert r.validate_answer(1, "valid", "符合") == ["第1项：单项检查结论无效：符合"]  # labels are not codes
    assert r.validate_answer(1, "valid", NOT_APPLICABLE) == ["第1项不能选择“不适用”"]
    for no in (1, 2, 3, 6, 7, 8, 11):
        assert r.validate_answer(no, None, NOT_APPLICABLE), no
    assert r.validate_answer(10, "has", CONFORM) == ["第10项：请选择“有”的具体情形（已处理/未处理）"]
    assert r.validate_answer(11, "has", NONCONFORM) == [
        "第11项：请选择“有”的具体情形（涂改转让/生产假冒伪劣/其他违法行为）"]
    assert r.validate_answer(6, "not_tested,records_incomplete", NONCONFORM) == ["第6项：检查记录只能选择一项"]
    assert r.validate_answer(10, "has_handled,has_unhandled", NONCONFORM) == ["第10项：检查记录只能选择一项"]
    assert r.validate_answer(11, "has_altered,none", NONCONFORM) == [
        "第11项：检查记录选项不能同时选择：有（涂改转让）、无"]


def test_contradicting_conclusion_is_valid():
    # Decision: the officer decides; the record only proposes.
    assert r.validate_answer(1, "expired", CONFORM) == []
    assert r.proposed_conclusion(1, "expired") == NONCONFORM
    assert r.validate_answer(1, "valid", NONCONFORM) == []
    assert r.proposed_conclusion(1, "valid") == CONFORM
    assert r.validate_answer(1, "bogus", CONFORM) != [] and r.proposed_conclusion(1, "bogus") is None


def test_validate_extra_rows_and_item12():
    assert r.validate_extra_row(ExtraRowValue("粉尘防爆", "未落实", NONCONFORM)) == []
    assert r.validate_extra_row({"project": "", "conclusion": CONFORM}) == ["第12项：请填写检查项目名称"]
    assert r.validate_extra_row({"project": "x", "conclusion": "bad"}) == ["第12项：单项检查结论无效：bad"]
    assert r.validate_item12({12: AnswerValue("none")}, [ExtraRowValue("x", "", CONFORM)]) == [
        "第12项：已选择“无其他检查项目”，但填写了其他检查项目"]
    assert r.validate_item12({12: AnswerValue("whatever")}, []) == ["第12项：检查记录选项无效：whatever"]
    assert r.validate_item12({12: AnswerValue("none")}, []) == []


# ---------------------------------------------------------------------------
# Completeness, overall conclusion, summary
# ---------------------------------------------------------------------------


def _all_conform() -> dict:
    return {n: AnswerValue(next(o.code for o in r.ITEMS[n].leaf_options if not o.nonconform), CONFORM)
            for n in r.FIXED_ITEM_NOS}


def test_progress_and_completeness():
    assert r.progress({}) == (0, 12)
    assert not r.is_complete({})
    assert r.missing_items({}) == list(range(1, 13))
    answers = _all_conform()
    assert r.progress(answers) == (11, 12)
    assert r.missing_items(answers) == [12]
    assert not r.is_complete(answers)
    assert r.overall_conclusion(answers) is None
    # item 12: explicit "none"
    answers[12] = AnswerValue(r.NO_EXTRA_ITEMS)
    assert r.is_complete(answers) and r.progress(answers) == (12, 12)
    assert r.overall_conclusion(answers) == PASS
    # item 12: rows instead of the marker
    del answers[12]
    rows = [ExtraRowValue("粉尘防爆", "已落实", CONFORM)]
    assert r.is_complete(answers, rows)
    assert r.overall_conclusion(answers, rows) == PASS
    assert not r.is_complete(answers, [ExtraRowValue("粉尘防爆", "", None)])
    assert not r.is_complete(answers, [ExtraRowValue("", "", CONFORM)])


def test_item_completeness_rules():
    assert r.is_item_complete(4, AnswerValue(None, NOT_APPLICABLE))  # 不适用 needs no record
    assert not r.is_item_complete(1, AnswerValue(None, CONFORM))  # 符合 needs a record
    assert not r.is_item_complete(1, AnswerValue("valid", None))
    assert not r.is_item_complete(1, AnswerValue("valid", NOT_APPLICABLE))  # invalid
    assert not r.is_item_complete(10, AnswerValue("has", CONFORM))
    assert r.is_item_complete(1, ("valid", CONFORM))  # tuples
    assert r.is_item_complete(1, {"record_code": "valid", "conclusion": CONFORM})  # mappings

    class Row:  # ORM-like objects
        record_code = "expired"
        conclusion = NONCONFORM

    assert r.is_item_complete(1, Row())


def test_overall_fail_rules():
    answers = _all_conform()
    answers[12] = AnswerValue(r.NO_EXTRA_ITEMS)
    answers[3] = AnswerValue("exists", NONCONFORM)
    assert r.overall_conclusion(answers) == FAIL
    # a 不符合 row in item 12 fails too (note 2)
    answers = _all_conform()
    rows = [ExtraRowValue("粉尘防爆", "未落实", NONCONFORM)]
    assert r.overall_conclusion(answers, rows) == FAIL
    # 不适用 does not fail
    answers = _all_conform()
    answers[12] = AnswerValue(r.NO_EXTRA_ITEMS)
    answers[4] = AnswerValue(None, NOT_APPLICABLE)
    assert r.overall_conclusion(answers) == PASS
    # contradicting record is the officer's call: the conclusion counts
    answers[1] = AnswerValue("expired", CONFORM)
    assert r.overall_conclusion(answers) == PASS


def test_overall_incomplete_and_early_fail():
    answers = {3: AnswerValue("exists", NONCONFORM)}
    assert r.overall_conclusion(answers) is None
    assert r.overall_conclusion(answers, early_fail=True) == FAIL
    assert r.overall_conclusion({1: AnswerValue("valid", CONFORM)}, early_fail=True) is None
    assert r.overall_conclusion({}, [ExtraRowValue("x", "", NONCONFORM)], early_fail=True) == FAIL


def test_problem_summary():
    answers = _all_conform()
    assert r.problem_summary(answers) == ""
    answers[3] = AnswerValue("exists", NONCONFORM)
    answers[11] = AnswerValue(("has_counterfeit", "has_altered"), NONCONFORM)
    answers[8] = AnswerValue("yes", NONCONFORM)  # officer's own finding, no record implying it
    rows = [ExtraRowValue("粉尘防爆", "除尘系统未运行", NONCONFORM, "已责令停产整改"),
            ExtraRowValue("安全标志", "齐全", CONFORM)]
    remarks = {3: "生产未获证的产品单元", 8: "压力表超期未检"}
    assert r.problem_summary(answers, rows, remarks) == "\n".join([
        "1. 第3项 超许可证范围生产：存在；生产未获证的产品单元",
        "2. 第8项 计量器具检定：是；压力表超期未检",
        "3. 第11项 其他违反生产许可规定的情形：有（涂改转让、生产假冒伪劣）",
        "4. 第12项 粉尘防爆：除尘系统未运行；已责令停产整改",
    ])
    only_conclusion = {5: AnswerValue(None, NONCONFORM)}
    assert r.problem_summary(only_conclusion) == "1. 第5项 执行产品标准有效性及公开：不符合"


# ---------------------------------------------------------------------------
# Equipment and not-inspected reasons
# ---------------------------------------------------------------------------


def test_equipment_statuses():
    assert [(c.code, c.label) for c in r.EQUIPMENT_STATUSES] == [
        ("same", "与取证时一致"), ("changed", "已变更"), ("retired", "已停用或报废"), ("added", "新增")]


def test_equipment_suggests_change():
    same = {"name": "回转窑", "status": r.EQUIP_SAME, "licensed_qty": 1, "onsite_qty": 1}
    assert not r.equipment_suggests_change([])
    assert not r.equipment_suggests_change([same])
    for status in (r.EQUIP_CHANGED, r.EQUIP_RETIRED, r.EQUIP_ADDED):
        assert r.equipment_suggests_change([same, {"name": "球磨机", "status": status}])
    assert r.equipment_suggests_change([{"name": "球磨机", "status": r.EQUIP_SAME,
                                         "licensed_qty": "2", "onsite_qty": "1"}])
    assert r.equipment_change_notes([{"name": "球磨机", "status": r.EQUIP_RETIRED},
                                     {"name": "包装机", "status": r.EQUIP_SAME,
                                      "licensed_qty": 2, "onsite_qty": 3}]) == [
        "球磨机：已停用或报废", "包装机：数量由2变为3"]
    changed = [{"name": "球磨机", "status": r.EQUIP_CHANGED}]
    assert r.item2_equipment_warning("unchanged", changed)
    assert r.item2_equipment_warning("changed_reviewed", changed) is None
    assert r.item2_equipment_warning("unchanged", [same]) is None


def test_not_inspected_reasons():
    assert [c.label for c in r.NOT_INSPECTED_REASONS] == [
        "停产", "转产", "无法联系（查无下落）", "拒绝检查", "已注销", "已关闭"]
    assert r.NOT_INSPECTED_REASON_LABELS[r.REASON_UNREACHABLE] == "无法联系（查无下落）"


# --- issue 11.16: the proposal follows the record; contradictions need a remark ------------

def test_next_conclusion_follows_the_record_unless_chosen():
    nc = r.next_conclusion
    # The form sends the checked conclusion with the record: equal to the stored one = no choice.
    assert nc(3, "exists", "not_exists", r.NONCONFORM, r.NONCONFORM) == r.CONFORM
    assert nc(3, "not_exists", "exists", r.CONFORM, r.CONFORM) == r.NONCONFORM
    assert nc(3, None, "exists", None, "") == r.NONCONFORM
    assert nc(3, "exists", "not_exists", r.NONCONFORM, None) == r.CONFORM
    # An explicit choice (a sent conclusion differing from the stored one) wins.
    assert nc(3, "exists", "exists", r.NONCONFORM, r.CONFORM) == r.CONFORM
    # A conclusion chosen against the old record's proposal is kept when the record changes.
    assert nc(6, "tested_archived", "not_tested", r.NONCONFORM, r.NONCONFORM) == r.NONCONFORM
    assert nc(4, None, "marked", r.NOT_APPLICABLE, r.NOT_APPLICABLE) == r.NOT_APPLICABLE
    # Unchanged record, nothing sent: unchanged.
    assert nc(3, "exists", "exists", r.CONFORM, None) == r.CONFORM
    # Record cleared (item 11 checkboxes): a proposed conclusion goes with it.
    assert nc(11, "has_other", "", r.NONCONFORM, r.NONCONFORM) == ""


def test_contradiction_needs_a_remark():
    message = r.contradiction(3, "exists", r.CONFORM, "")
    assert message and "第3项" in message and "存在" in message and "符合" in message and "备注" in message
    assert r.contradiction(3, "exists", r.CONFORM, "样品试制，未销售") is None
    assert r.contradiction(4, "not_marked", r.NOT_APPLICABLE, "  ") is not None
    assert r.contradiction(3, "exists", r.NONCONFORM, "") is None
    assert r.contradiction(3, "not_exists", r.CONFORM, "") is None
    assert r.contradiction(3, "not_exists", r.NONCONFORM, "") is None   # stricter than the record: allowed
    assert r.contradiction(11, "has_altered,has_other", r.CONFORM, "") is not None
    assert r.contradiction(12, "none", r.CONFORM, "") is None
    answers = {3: r.AnswerValue("exists", r.CONFORM), 1: r.AnswerValue("expired", r.CONFORM),
               2: r.AnswerValue("unchanged", r.CONFORM)}
    found = r.contradictions(answers, {1: "证书已换发，新证在途"})
    assert len(found) == 1 and found[0].startswith("第3项")


# --- issue 11.10: bounds of a record ----------------------------------------------------

def test_record_bounds_are_clear_refusals():
    assert r.too_long("第12项检查记录", "字" * r.MAX_ROW_RECORD, r.MAX_ROW_RECORD) is None
    message = r.too_long("第12项检查记录", "字" * (r.MAX_ROW_RECORD + 5), r.MAX_ROW_RECORD)
    assert message == f"第12项检查记录最多 {r.MAX_ROW_RECORD} 个字（现有 {r.MAX_ROW_RECORD + 5} 个字），请精简后再保存"
    assert r.extra_row_field_errors({"project": "x" * (r.MAX_ROW_PROJECT + 1), "remark": "ok"}) == [
        r.too_long("第12项检查项目", "x" * (r.MAX_ROW_PROJECT + 1), r.MAX_ROW_PROJECT)]
    assert r.extra_row_field_errors({"record": "ok"}) == []
    assert "30" in r.extra_rows_full_message() and r.MAX_EXTRA_ROWS == 30
    assert r.summary_errors("一\n" * r.MAX_SUMMARY_LINES) and not r.summary_errors("一行\n两行")


def test_hostile_records_are_checked_but_never_kept_in_the_caches():
    """Records and answers are parsed and checked once per process (the status of every
    item is computed on every save); a request's megabyte of codes must not stay in memory."""
    from xcapp.inspections import rules

    huge = [f"bogus{i}" for i in range(50_000)]
    rules._normalize.cache_clear()
    rules._answer_errors.cache_clear()
    assert len(rules.normalize_record(3, huge)) == 50_000
    assert rules.validate_answer(3, huge, "x" * 10_000)             # refused ...
    assert rules.validate_answer(3, "exists", "y" * 10_000)
    sizes = (rules._normalize.cache_info().currsize, rules._answer_errors.cache_info().currsize)
    assert sizes == (1, 0)                                          # ... and only "exists" kept
    assert rules.validate_answer(3, "exists", "nonconform") == []   # a real answer is kept
    assert rules._answer_errors.cache_info().currsize == 1
