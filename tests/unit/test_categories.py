"""Unit tests for xcapp.publicity.categories (pure; no app fixtures)."""

from __future__ import annotations

import re

import pytest

from xcapp.inspections import rules
from xcapp.publicity import categories as c
from xcapp.publicity.categories import Outcome, result_category

ASCII_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def test_result_category_labels_from_domain():
    assert [x.label for x in c.RESULT_CATEGORIES] == [
        "未发现问题",
        "发现问题已责令改正",
        "发现问题待后续处理",
        "未发现开展本次抽查涉及的经营活动",
        "通过登记的住所（经营场所）无法联系",
        "不配合检查情节严重",
        "已关闭停业或正在组织清算",
        "已注销",
        "被吊销",
        "被撤销",
    ]


def test_stable_codes_fixed():
    # Codes are stored and exported: changing one is a data migration, not a refactor.
    assert [x.code for x in c.RESULT_CATEGORIES] == [
        "no_problem", "problem_corrected", "problem_pending", "no_activity", "unreachable",
        "uncooperative", "closed", "deregistered", "revoked", "annulled"]
    assert [x.code for x in c.INSPECTION_METHODS] == [
        "onsite", "document", "testing", "online", "agency"]


@pytest.mark.parametrize("choices", [c.RESULT_CATEGORIES, c.INSPECTION_METHODS])
def test_codes_ascii_unique_and_apart_from_labels(choices):
    codes = [x.code for x in choices]
    labels = [x.label for x in choices]
    assert len(set(codes)) == len(codes) and len(set(labels)) == len(labels)
    assert all(ASCII_CODE.match(code) for code in codes)
    assert not set(codes) & set(labels)


def test_method_labels():
    assert [x.label for x in c.INSPECTION_METHODS] == [
        "实地检查", "书面检查", "检验检测", "网络监测", "委托专业机构辅助"]


# ---------------------------------------------------------------------------
# Outcome -> category
# ---------------------------------------------------------------------------


def test_inspected_outcomes():
    assert result_category(Outcome(overall=rules.PASS)) == c.CAT_NO_PROBLEM
    assert result_category(Outcome(overall=rules.FAIL, rectified=True)) == c.CAT_PROBLEM_CORRECTED
    assert result_category(Outcome(overall=rules.FAIL)) == c.CAT_PROBLEM_PENDING
    assert result_category({"overall": rules.FAIL, "rectified": False}) == c.CAT_PROBLEM_PENDING


@pytest.mark.parametrize("reason, category", [
    (rules.REASON_SUSPENDED, c.CAT_NO_ACTIVITY),
    (rules.REASON_SWITCHED, c.CAT_NO_ACTIVITY),
    (rules.REASON_UNREACHABLE, c.CAT_UNREACHABLE),
    (rules.REASON_REFUSED, c.CAT_UNCOOPERATIVE),
    (rules.REASON_DEREGISTERED, c.CAT_DEREGISTERED),
    (rules.REASON_CLOSED, c.CAT_CLOSED),
])
def test_not_inspected_outcomes(reason, category):
    assert result_category(Outcome(not_inspected_reason=reason)) == category


def test_every_reason_is_mapped():
    assert set(c.REASON_TO_CATEGORY) == {x.code for x in rules.NOT_INSPECTED_REASONS}
    assert set(c.REASON_TO_CATEGORY.values()) <= set(c.RESULT_CATEGORY_LABELS)


def test_licence_actions_take_precedence():
    assert result_category(Outcome(licence_action=c.LICENCE_REVOKED)) == c.CAT_REVOKED
    assert result_category(Outcome(licence_action=c.LICENCE_ANNULLED)) == c.CAT_ANNULLED
    assert result_category(Outcome(overall=rules.FAIL, licence_action=c.LICENCE_REVOKED)) == c.CAT_REVOKED
    assert result_category(Outcome(not_inspected_reason=rules.REASON_SUSPENDED,
                                   licence_action=c.LICENCE_ANNULLED)) == c.CAT_ANNULLED


def test_every_category_reachable():
    reached = {result_category(o) for o in (
        [Outcome(overall=rules.PASS), Outcome(overall=rules.FAIL, rectified=True),
         Outcome(overall=rules.FAIL)]
        + [Outcome(not_inspected_reason=x.code) for x in rules.NOT_INSPECTED_REASONS]
        + [Outcome(licence_action=code) for code in c.LICENCE_ACTION_TO_CATEGORY])}
    assert reached == set(c.RESULT_CATEGORY_LABELS)


@pytest.mark.parametrize("outcome, message", [
    (Outcome(), "尚无检查结论或未检查原因，无法确定抽查结果"),
    (Outcome(overall=rules.PASS, not_inspected_reason=rules.REASON_REFUSED), "未实施检查的任务不应有检查结论"),
    (Outcome(overall="合格"), "检查结论无效：合格"),
    (Outcome(not_inspected_reason="x"), "未检查原因无效：x"),
    (Outcome(licence_action="x"), "许可证处理方式无效：x"),
])
def test_invalid_outcomes(outcome, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        result_category(outcome)
