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
