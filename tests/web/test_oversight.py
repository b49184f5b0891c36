"""The dashboard on a fixture with known counts; every figure links to its tasks."""
from datetime import date, timedelta

from sqlalchemy import select

from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections.models import Inspection
from xcapp.oversight.services import facts, totals, unit_rows
from xcapp.plans.models import Task
from xcapp.publicity.models import Publication


def _plan(make_enterprise, make_officer):
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, freeze_plan

    for unit in ("411002", "411002", "411002", "411002", "411081", "411081"):
        make_enterprise(unit=unit, risk="高")
    year = local_today().year
    plan = create_plan({"code": "看板测试", "name": "看板", "year": year, "ratio_low": 100, "ratio_mid": 100,
                        "ratio_midhigh": 100, "ratio_high": 100, "k": 2,
                        "deadline": (local_today() - timedelta(days=1)).isoformat(), "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "x")
    dispatch_plan(plan.id)
    db.session.commit()
    return plan


def _record(task, state, conclusion="", reason="", day=None, published=False):
    inspection = Inspection(task_id=task.id, revision=1, state=state, conclusion=conclusion,
                            not_inspected_reason=reason, inspection_date=day or local_today())
    db.session.add(inspection)
    db.session.flush()
    if published:
        db.session.add(Publication(inspection_id=inspection.id, category="no_problem", confirmed_on=local_today()))


def test_dashboard_counts_and_links(app, client, auth, make_user, make_enterprise, make_officer):
    plan = _plan(make_enterprise, make_officer)
    weidu = db.session.scalars(select(Task).join(Task.unit).where(Task.unit.has(code="411002")).order_by(Task.code)).all()
    yuzhou = db.session.scalars(select(Task).where(Task.unit.has(code="411081")).order_by(Task.code)).all()
    _record(weidu[0], "approved", "pass", published=True)
    _record(weidu[1], "submitted", "fail", day=date(2023, 9, 25))            # publication deadline long passed
    _record(weidu[2], "approved", "", "suspended", day=local_today())        # deadline in 20 working days
    # weidu[3] and both of 禹州市: nothing yet, and the plan deadline was yesterday.
    _record(yuzhou[0], "draft")
    db.session.commit()
    rows = {r.unit.code: r for r in unit_rows(facts(plan, make_user("readonly")))}
    w = rows["411002"].counts
    assert (w["drawn"], w["done"], w["inspected"], w["not_inspected"], w["submitted"], w["approved"]) == (4, 3, 2, 1, 1, 2)
    assert (w["published"], w["fail"], w["overdue"], w["due_passed"]) == (1, 1, 1, 1)
    assert rows["411002"].reasons == {"suspended": 1}
    assert rows["411002"].rate("done", "drawn") == 0.75
    assert abs(rows["411002"].rate("published", "done") - 1 / 3) < 1e-9
    y = rows["411081"].counts
    assert (y["drawn"], y["done"], y["overdue"]) == (2, 0, 2)
    assert totals(list(rows.values())).counts["overdue"] == 3
    auth.login_as(make_user("city_admin"))
    page = client.get(f"/oversight/?plan={plan.id}").get_data(as_text=True)
    assert "75%" in page and "<svg" in page and "停产 1" in page
    listing = client.get(f"/oversight/list?plan={plan.id}&metric=overdue&unit=411002").get_data(as_text=True)
    assert weidu[3].code in listing and weidu[0].code not in listing
    # A county admin sees only its own unit.
    auth.login_as(make_user("county_admin", "411081"))
    mine = client.get(f"/oversight/?plan={plan.id}").get_data(as_text=True)
    assert "禹州市" in mine and "魏都区" not in mine
    assert weidu[0].code not in client.get(f"/oversight/list?plan={plan.id}&metric=drawn").get_data(as_text=True)


def test_follow_up_case_opened_on_approval_and_rectification_published(started, client, auth, make_user):
    from tests.web.test_publicity import _approved
    from xcapp.oversight.models import FollowUpCase
    from xcapp.publicity.services import outcome_category

    task, officers, _users, inspection = started
    inspection = _approved(client, auth, make_user, inspection, officers, {6: "not_tested"})
    case = db.session.scalar(select(FollowUpCase))
    assert case.kind == "fail" and case.state == "pending"
    assert outcome_category(inspection) == "problem_pending"
    url = f"/oversight/cases/{case.id}"
    client.post(url, data={"action": "order"})                      # no deadline: refused
    db.session.refresh(case)
    assert case.state == "pending"
    client.post(url, data={"action": "order", "deadline": "2026-12-31", "note": "限期一个月整改"})
    client.post(url, data={"action": "recheck", "recheck": "pass", "note": "复查出厂检验记录齐全"})
    db.session.expire_all()
    case = db.session.get(FollowUpCase, case.id)
    assert case.state == "recheck_pass" and [a.action for a in case.actions] == ["order", "recheck"]
    assert outcome_category(db.session.get(Inspection, inspection.id)) == "problem_corrected"
    page = client.get(url).get_data(as_text=True)
    assert "复查合格" in page and "限期一个月整改" in page
    auth.login_as(make_user("county_admin", "411081"))
    assert client.get(url).status_code == 404

