"""后续处理: the follow-up of a 不合格 or not-inspected task, as a small state machine.
Pure Python: the states, the actions each state allows, where they lead, and what
the app proposes (seed 七(五))."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..inspections import rules
from ..registry.vocab import LicenceState
from .vocab import CaseState

# Short names for the rules below.
PENDING, RECTIFYING, RECHECK_PASS, RECHECK_FAIL, REFERRED, CLOSED = (
    CaseState.PENDING, CaseState.RECTIFYING, CaseState.RECHECK_PASS, CaseState.RECHECK_FAIL, CaseState.REFERRED,
    CaseState.CLOSED)
OPEN_STATES = (PENDING, RECTIFYING, RECHECK_PASS, RECHECK_FAIL, REFERRED)

INTERVIEW, ORDER, TRACK, RECHECK, CASE, REVOKE, CANCEL, CLOSE = (
    "interview", "order", "track", "recheck", "case", "revoke", "cancel", "close")
RECHECK_TASK, DECIDE = "recheck_task", "decide"
ACTIONS = {INTERVIEW: "约谈", ORDER: "责令整改", TRACK: "跟踪整改", RECHECK_TASK: "派发复查任务", RECHECK: "复查",
           CASE: "立案查处", REVOKE: "报请发证机关撤销或吊销", CANCEL: "注销", DECIDE: "记录发证机关决定",
           CLOSE: "结案"}

# The licensing authority's decision after 报请 (REVOKE or CANCEL): the licence state it
# leaves in the registry (None: unchanged).
DECISIONS = {"撤销": LicenceState.ANNULLED.value, "吊销": LicenceState.REVOKED.value,
             "注销": LicenceState.CANCELLED.value, "不予处理": None}

# action -> {from state: to state}; a state missing means the action is not allowed there.
TRANSITIONS = {
    INTERVIEW: {s: s for s in (PENDING, RECTIFYING, RECHECK_FAIL)},
    ORDER: {PENDING: RECTIFYING, RECHECK_FAIL: RECTIFYING},
    TRACK: {RECTIFYING: RECTIFYING},
    RECHECK_TASK: {RECTIFYING: RECTIFYING},   # the result comes with the task's approved record
    RECHECK: {RECTIFYING: None},          # to RECHECK_PASS or RECHECK_FAIL by the result
    CASE: {PENDING: REFERRED, RECTIFYING: REFERRED, RECHECK_FAIL: REFERRED},
    REVOKE: {RECTIFYING: REFERRED, RECHECK_FAIL: REFERRED},
    CANCEL: {PENDING: REFERRED, RECTIFYING: REFERRED, RECHECK_FAIL: REFERRED},
    DECIDE: {REFERRED: CLOSED},
    CLOSE: {RECHECK_PASS: CLOSED, REFERRED: CLOSED, PENDING: CLOSED},
}


class FollowUpError(ValueError):
    pass


def allowed_actions(state: str) -> list[str]:
    return [a for a, moves in TRANSITIONS.items() if state in moves]


def check_decision(decision: str, decided_on: date | None, doc_no: str, today: date) -> None:
    """The licensing authority's decision needs its kind, date (not in the future) and 文号."""
    if decision not in DECISIONS:
        raise FollowUpError("请选择发证机关的决定：" + "、".join(DECISIONS))
    if decided_on is None:
        raise FollowUpError("请填写决定日期")
    if decided_on > today:
        raise FollowUpError(f"决定日期不能晚于今天（{today.isoformat()}）")
    if not doc_no.strip():
        raise FollowUpError("请填写决定文号，如 豫市监许撤〔2023〕5号")
    if len(doc_no) > 60:
        raise FollowUpError("决定文号不能超过 60 个字")


def next_state(state: str, action: str, *, deadline: date | None = None, recheck_passed: bool | None = None,
               note: str = "") -> str:
    """The state after ``action``; FollowUpError (Chinese) when it is not allowed or lacks input."""
    if action not in ACTIONS:
        raise FollowUpError("未知的处理措施")
    moves = TRANSITIONS[action]
    if state not in moves:
        raise FollowUpError(f"当前状态“{CaseState.label_of(state)}”下不能{ACTIONS[action]}")
    if action == ORDER and deadline is None:
        raise FollowUpError("责令整改须规定整改期限")
    if action == RECHECK:
        if recheck_passed is None:
            raise FollowUpError("复查须填写复查结果（合格或不合格）")
        return RECHECK_PASS if recheck_passed else RECHECK_FAIL
    if action in (CASE, REVOKE, CANCEL, CLOSE) and not note.strip():
        raise FollowUpError(f"{ACTIONS[action]}须填写说明")
    return moves[state]


@dataclass(frozen=True)
class Proposal:
    action: str       # "" = advice without a state change
    reason: str


def proposals(state: str, *, rectify_deadline: date | None, today: date, licence_expired: bool,
              production_stopped: bool, not_inspected_reason: str = "",
              awaiting_decision: bool = False) -> list[Proposal]:
    """What the seed asks for in this situation (七(五)). ``awaiting_decision``: the case
    was reported to the licensing authority (报请撤销/吊销 or 注销) and no decision is recorded."""
    out = []
    if state == REFERRED and awaiting_decision:
        out.append(Proposal(DECIDE, "已报请发证机关：收到决定后记录决定（撤销、吊销、注销或不予处理）、日期和文号"))
    overdue = rectify_deadline is not None and today > rectify_deadline
    if state == RECHECK_FAIL:
        out.append(Proposal(REVOKE, "整改复查仍不合格：应报请发证机关依法撤销或吊销生产许可证"))
    elif state == RECTIFYING and overdue:
        out.append(Proposal(REVOKE, f"整改期限（{rectify_deadline}）已过仍未复查合格：逾期未改正的，应报请发证机关撤销或吊销"))
    if state in OPEN_STATES and state not in (REFERRED,) and (licence_expired or not_inspected_reason in
                                                                (rules.REASON_DEREGISTERED, rules.REASON_CLOSED)):
        out.append(Proposal(CANCEL, "生产许可证有效期届满未延续或企业已不再生产：应依法注销生产许可证"))
    stopped = not_inspected_reason in (rules.REASON_SUSPENDED, rules.REASON_SWITCHED) or production_stopped
    if state == PENDING and stopped:
        out.append(Proposal("", "因停产、转产未实施检查：已列入后续检查名单，做好记录，严格跟踪，恢复生产后开展监督检查"))
    return out
