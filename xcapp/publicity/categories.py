"""Publication (公示) vocabularies: result categories, inspection methods, and the
mapping from an inspection outcome to a result category.

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

from collections.abc import Mapping
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
# Outcome -> category
# ---------------------------------------------------------------------------

LICENCE_REVOKED = "revoked"  # 吊销 (penalty)
LICENCE_ANNULLED = "annulled"  # 撤销 (granted wrongly)

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
