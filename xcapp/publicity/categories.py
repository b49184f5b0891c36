"""Publication (公示) vocabularies: result categories, inspection methods,
follow-up measures, and the mapping from an inspection outcome to a result category.

Pure module: no Flask, no database.  Codes are stable and stored; labels are for
display and may be renamed (DOMAIN.md: the provincial system renamed labels over the
years while keeping codes).

Mapping decisions (``result_category``), highest precedence first:

1. licence action: 吊销 -> 被吊销 (``CAT_REVOKED``), 撤销 -> 被撤销 (``CAT_ANNULLED``);
2. not-inspected reason: 停产 / 转产 -> 未发现开展本次抽查涉及的经营活动;
   无法联系（查无下落） -> 通过登记的住所（经营场所）无法联系; 拒绝检查 -> 不配合检查情节严重;
   已注销 -> 已注销; 已关闭 -> 已关闭停业或正在组织清算 (two separate reason codes in
   ``xcapp.inspections.rules``, so no guessing between them);
3. overall conclusion: 合格 -> 未发现问题; 不合格 and rectified -> 发现问题已责令改正;
   不合格 not (yet) rectified -> 发现问题待后续处理.

An outcome with both a not-inspected reason and an overall conclusion is
contradictory and raises ValueError, as does an outcome with neither (and no
licence action).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from xcapp.inspections.rules import (
    FAIL,
    PASS,
    REASON_CLOSED,
    REASON_DEREGISTERED,
    REASON_REFUSED,
    REASON_SUSPENDED,
    REASON_SWITCHED,
    REASON_UNREACHABLE,
    Choice,
)

# ---------------------------------------------------------------------------
# Result categories (抽查结果)
# ---------------------------------------------------------------------------

CAT_NO_PROBLEM = "no_problem"
CAT_PROBLEM_CORRECTED = "problem_corrected"
CAT_PROBLEM_PENDING = "problem_pending"
CAT_NO_ACTIVITY = "no_activity"
CAT_UNREACHABLE = "unreachable"
CAT_UNCOOPERATIVE = "uncooperative"
CAT_CLOSED = "closed"
CAT_DEREGISTERED = "deregistered"
CAT_REVOKED = "revoked"
CAT_ANNULLED = "annulled"

RESULT_CATEGORIES: tuple[Choice, ...] = (
    Choice(CAT_NO_PROBLEM, "未发现问题"),
    Choice(CAT_PROBLEM_CORRECTED, "发现问题已责令改正"),
    Choice(CAT_PROBLEM_PENDING, "发现问题待后续处理"),
    Choice(CAT_NO_ACTIVITY, "未发现开展本次抽查涉及的经营活动"),
    Choice(CAT_UNREACHABLE, "通过登记的住所（经营场所）无法联系"),
    Choice(CAT_UNCOOPERATIVE, "不配合检查情节严重"),
    Choice(CAT_CLOSED, "已关闭停业或正在组织清算"),
    Choice(CAT_DEREGISTERED, "已注销"),
    Choice(CAT_REVOKED, "被吊销"),
    Choice(CAT_ANNULLED, "被撤销"),
)
RESULT_CATEGORY_LABELS: dict[str, str] = {c.code: c.label for c in RESULT_CATEGORIES}

# 未发现问题 cannot be combined with any other category.
EXCLUSIVE_CATEGORIES: frozenset[str] = frozenset({CAT_NO_PROBLEM})


def validate_categories(codes: Iterable[str]) -> list[str]:
    """Errors for a set of result categories chosen together."""
    codes = list(dict.fromkeys(codes or ()))
    errors = []
    unknown = [c for c in codes if c not in RESULT_CATEGORY_LABELS]
    if unknown:
        errors.append(f"抽查结果类别无效：{'、'.join(unknown)}")
    if not codes:
        errors.append("请选择抽查结果")
    for code in codes:
        if code in EXCLUSIVE_CATEGORIES and len(codes) > 1:
            errors.append(f"“{RESULT_CATEGORY_LABELS[code]}”不能与其他抽查结果同时选择")
    return errors


# ---------------------------------------------------------------------------
# Inspection methods (核查方式)
# ---------------------------------------------------------------------------

METHOD_ONSITE = "onsite"
METHOD_DOCUMENT = "document"
METHOD_TESTING = "testing"
METHOD_ONLINE = "online"
METHOD_AGENCY = "agency"

INSPECTION_METHODS: tuple[Choice, ...] = (
    Choice(METHOD_ONSITE, "实地检查"),
    Choice(METHOD_DOCUMENT, "书面检查"),
    Choice(METHOD_TESTING, "检验检测"),
    Choice(METHOD_ONLINE, "网络监测"),
    Choice(METHOD_AGENCY, "委托专业机构辅助"),
)
INSPECTION_METHOD_LABELS: dict[str, str] = {c.code: c.label for c in INSPECTION_METHODS}

# ---------------------------------------------------------------------------
# Follow-up measures (后续处置)
# ---------------------------------------------------------------------------

FOLLOW_NONE = "none"
FOLLOW_RECTIFY = "rectify_track"
FOLLOW_CASE = "case_referral"
FOLLOW_NOTIFY = "notify_departments"
FOLLOW_OTHER = "other"

FOLLOW_UP_MEASURES: tuple[Choice, ...] = (
    Choice(FOLLOW_NONE, "无需后续处置"),
    Choice(FOLLOW_RECTIFY, "责令改正并跟踪"),
    Choice(FOLLOW_CASE, "移送案件线索立案查处"),
    Choice(FOLLOW_NOTIFY, "抄告相关部门"),
    Choice(FOLLOW_OTHER, "其他"),
)
FOLLOW_UP_LABELS: dict[str, str] = {c.code: c.label for c in FOLLOW_UP_MEASURES}


def validate_follow_up(code: str | None, text: str | None = None) -> list[str]:
    """Errors for a follow-up measure; 其他 requires a description."""
    if not code:
        return ["请选择后续处置措施"]
    if code not in FOLLOW_UP_LABELS:
        return [f"后续处置措施无效：{code}"]
    if code == FOLLOW_OTHER and not (text or "").strip():
        return ["选择“其他”后续处置措施时，请填写具体内容"]
    return []


# ---------------------------------------------------------------------------
# Outcome -> category
# ---------------------------------------------------------------------------

LICENCE_REVOKED = "revoked"  # 吊销 (penalty)
LICENCE_ANNULLED = "annulled"  # 撤销 (granted wrongly)
LICENCE_ACTIONS: tuple[Choice, ...] = (
    Choice(LICENCE_REVOKED, "吊销"),
    Choice(LICENCE_ANNULLED, "撤销"),
)

REASON_TO_CATEGORY: dict[str, str] = {
    REASON_SUSPENDED: CAT_NO_ACTIVITY,
    REASON_SWITCHED: CAT_NO_ACTIVITY,
    REASON_UNREACHABLE: CAT_UNREACHABLE,
    REASON_REFUSED: CAT_UNCOOPERATIVE,
    REASON_DEREGISTERED: CAT_DEREGISTERED,
    REASON_CLOSED: CAT_CLOSED,
}
LICENCE_ACTION_TO_CATEGORY: dict[str, str] = {
    LICENCE_REVOKED: CAT_REVOKED,
    LICENCE_ANNULLED: CAT_ANNULLED,
}


@dataclass(frozen=True)
class Outcome:
    """What happened to one task.

    ``overall``: ``rules.PASS`` / ``rules.FAIL`` for an inspected enterprise;
    ``rectified``: for FAIL, True when the problems were ordered corrected and the
    correction is done (no further handling pending);
    ``not_inspected_reason``: a ``rules.REASON_*`` code;
    ``licence_action``: ``LICENCE_REVOKED`` (吊销) or ``LICENCE_ANNULLED`` (撤销).
    """

    overall: str | None = None
    rectified: bool = False
    not_inspected_reason: str | None = None
    licence_action: str | None = None


def result_category(outcome: Outcome | Mapping[str, Any]) -> str:
    """The result-category code to publish for an outcome (see module docstring)."""
    if isinstance(outcome, Mapping):
        outcome = Outcome(**outcome)
    if outcome.licence_action:
        try:
            return LICENCE_ACTION_TO_CATEGORY[outcome.licence_action]
        except KeyError:
            raise ValueError(f"许可证处理方式无效：{outcome.licence_action}") from None
    if outcome.not_inspected_reason:
        if outcome.overall:
            raise ValueError("未实施检查的任务不应有检查结论")
        try:
            return REASON_TO_CATEGORY[outcome.not_inspected_reason]
        except KeyError:
            raise ValueError(f"未检查原因无效：{outcome.not_inspected_reason}") from None
    if outcome.overall == PASS:
        return CAT_NO_PROBLEM
    if outcome.overall == FAIL:
        return CAT_PROBLEM_CORRECTED if outcome.rectified else CAT_PROBLEM_PENDING
    if outcome.overall:
        raise ValueError(f"检查结论无效：{outcome.overall}")
    raise ValueError("尚无检查结论或未检查原因，无法确定抽查结果")
