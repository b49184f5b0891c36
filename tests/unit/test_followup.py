"""The follow-up state machine and its proposals (seed 七(五))."""
from datetime import date

import pytest

from xcapp.oversight import followup as f


def test_the_usual_path():
    state = f.PENDING
    state = f.next_state(state, f.INTERVIEW)
    assert state == f.PENDING
    state = f.next_state(state, f.ORDER, deadline=date(2023, 12, 31))
    assert state == f.RECTIFYING
    assert f.next_state(state, f.TRACK) == f.RECTIFYING
    assert f.next_state(state, f.RECHECK, recheck_passed=True) == f.RECHECK_PASS
    failed = f.next_state(state, f.RECHECK, recheck_passed=False)
    assert failed == f.RECHECK_FAIL
    assert f.next_state(failed, f.REVOKE, note="报请省局吊销") == f.REFERRED
    assert f.next_state(f.REFERRED, f.CLOSE, note="已吊销") == f.CLOSED


@pytest.mark.parametrize("state,action,kwargs,message", [
    (f.PENDING, f.ORDER, {}, "整改期限"),
    (f.RECTIFYING, f.RECHECK, {}, "复查结果"),
    (f.PENDING, f.RECHECK, {"recheck_passed": True}, "不能复查"),
    (f.CLOSED, f.INTERVIEW, {}, "不能约谈"),
    (f.RECHECK_FAIL, f.REVOKE, {"note": " "}, "须填写说明"),
    (f.PENDING, "bribe", {}, "未知"),
])
def test_refused_transitions(state, action, kwargs, message):
    with pytest.raises(f.FollowUpError, match=message):
        f.next_state(state, action, **kwargs)


def test_proposals():
    today = date(2024, 1, 10)
    revoke = f.proposals(f.RECHECK_FAIL, rectify_deadline=None, today=today, licence_expired=False,
                         production_stopped=False)
    assert [p.action for p in revoke] == [f.REVOKE]
    overdue = f.proposals(f.RECTIFYING, rectify_deadline=date(2023, 12, 31), today=today, licence_expired=False,
                          production_stopped=False)
    assert [p.action for p in overdue] == [f.REVOKE]
    in_time = f.proposals(f.RECTIFYING, rectify_deadline=date(2024, 2, 1), today=today, licence_expired=False,
                          production_stopped=False)
    assert in_time == []
    cancel = f.proposals(f.PENDING, rectify_deadline=None, today=today, licence_expired=True, production_stopped=False)
    assert f.CANCEL in [p.action for p in cancel]
    later = f.proposals(f.PENDING, rectify_deadline=None, today=today, licence_expired=False, production_stopped=False,
                        not_inspected_reason="suspended")
    assert later and later[0].action == "" and "后续检查" in later[0].reason


def test_decision_only_after_referral_and_closes():
    from xcapp.oversight import followup as f

    assert f.next_state(f.REFERRED, f.DECIDE) == f.CLOSED
    for state in (f.PENDING, f.RECTIFYING, f.RECHECK_FAIL, f.RECHECK_PASS, f.CLOSED):
        with pytest.raises(f.FollowUpError):
            f.next_state(state, f.DECIDE)
    assert f.DECIDE in f.allowed_actions(f.REFERRED)


def test_check_decision_needs_kind_date_and_document_number():
    from datetime import date

    from xcapp.oversight import followup as f

    today = date(2023, 12, 1)
    f.check_decision("吊销", date(2023, 11, 30), "豫市监许吊〔2023〕1号", today)
    for args, message in ((("罚款", date(2023, 11, 30), "x"), "请选择"), (("吊销", None, "x"), "决定日期"),
                          (("吊销", date(2023, 12, 2), "x"), "不能晚于今天"), (("注销", date(2023, 11, 1), " "), "文号"),
                          (("注销", date(2023, 11, 1), "x" * 61), "60")):
        with pytest.raises(f.FollowUpError, match=message):
            f.check_decision(*args, today)
    assert f.DECISIONS["不予处理"] is None and f.DECISIONS["撤销"] == "撤销"


def test_recheck_task_keeps_rectifying_and_awaiting_decision_is_proposed():
    from datetime import date

    from xcapp.oversight import followup as f

    assert f.next_state(f.RECTIFYING, f.RECHECK_TASK) == f.RECTIFYING
    with pytest.raises(f.FollowUpError):
        f.next_state(f.PENDING, f.RECHECK_TASK)
    proposals = f.proposals(f.REFERRED, rectify_deadline=None, today=date(2023, 12, 1), licence_expired=False,
                            production_stopped=False, awaiting_decision=True)
    assert [p.action for p in proposals] == [f.DECIDE]
    assert f.proposals(f.REFERRED, rectify_deadline=None, today=date(2023, 12, 1), licence_expired=False,
                       production_stopped=False) == []
