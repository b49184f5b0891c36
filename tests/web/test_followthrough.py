"""Issue 12 end to end: later inspections and 复查 as tasks, the licensing authority's
decision, the inspection method, confirmed (on-time) publication, multi-year views."""
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections.models import Inspection
from xcapp.oversight.models import FollowUpCase
from xcapp.oversight.services import facts
from xcapp.plans.models import Task

HX = {"HX-Request": "true"}


@pytest.fixture
def plan(make_enterprise, make_officer):
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers, freeze_plan

    for _ in range(3):
        make_enterprise(unit="411002", risk="高")
    for _ in range(6):
        make_officer(unit="411002")
    year = local_today().year
    plan = create_plan({"code": "后续测试", "name": f"{year}年后续", "year": year, "ratio_low": 100, "ratio_mid": 100,
                        "ratio_midhigh": 100, "ratio_high": 100, "k": 2,
                        "deadline": (local_today() + timedelta(days=30)).isoformat(), "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "x")
    dispatch_plan(plan.id)
    task = db.session.scalars(select(Task).order_by(Task.code)).first()
    draw_officers(plan.id, task.unit_id, "y")
    db.session.commit()
    return plan


def _tasks(plan):
    return db.session.scalars(select(Task).where(Task.plan_id == plan.id, Task.kind == "drawn")
                              .order_by(Task.code)).all()


def _approved(task, admin, conclusion="pass", reason=""):
    """A sealed record of ``task`` approved through the real service (signals included)."""
    from xcapp.inspections.lifecycle import approve, compute_seal

    inspection = Inspection(task_id=task.id, revision=1, state="submitted", conclusion=conclusion,
                            not_inspected_reason=reason, not_inspected_remark="厂门紧闭" if reason else "",
                            inspection_date=local_today())
    db.session.add(inspection)
    db.session.flush()
    inspection.seal_hash = compute_seal(inspection)
    db.session.commit()
    approve(inspection.id, admin)
    db.session.commit()
    return inspection


def _case(task):
    db.session.expire_all()
    return db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.id))


def test_later_inspection_of_a_suspended_enterprise_counts_for_the_original(plan, client, auth, make_user):
    from xcapp.registry.services import history

    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[0]
    _approved(original, admin, conclusion="", reason="suspended")
    db.session.expire_all()
    assert original.enterprise.production_state == "停产"
    assert any(h.field == "生产状态" and h.new.startswith("停产") for h in history("enterprise", original.enterprise_id))
    item = next(i for i in facts(plan, admin) if i.task.id == original.id)
    assert "later" in item.metrics and "later_done" not in item.metrics
    auth.login_as(admin)
    case = _case(original)
    page = client.get(f"/oversight/cases/{case.id}").get_data(as_text=True)
    assert "派发后续检查任务" in page
    # Fewer officers than k chosen: refused, nothing created.
    officer = original.active_officers[0].officer
    r = client.post(f"/oversight/tasks/{original.id}/later", data={"mode": "choose", "officer": [officer.id]})
    assert r.status_code == 302 and db.session.scalar(select(Task).where(Task.kind == "later")) is None
    r = client.post(f"/oversight/tasks/{original.id}/later", data={"mode": "draw", "entropy": "后续", "next": "case"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/oversight/cases/{case.id}")
    later = db.session.scalar(select(Task).where(Task.kind == "later"))
    assert later.origin_task_id == original.id and later.enterprise_id == original.enterprise_id
    assert len(later.active_officers) == 2
    # The draw excluded the previous inspection's officers.
    assert not {o.cert_no for o in later.active_officers} & {o.cert_no for o in original.active_officers}
    assert later.code in client.get(f"/plans/tasks/{original.id}").get_data(as_text=True)
    # It is in the officers' 我的任务, marked as a later inspection; the plan's task count is unchanged.
    officer_user = make_user("inspector", "411002")
    later.active_officers[0].officer.user_id = officer_user.id
    db.session.commit()
    auth.login_as(officer_user)
    mine = client.get("/inspections/mine").get_data(as_text=True)
    assert later.code in mine and "后续检查" in mine
    auth.login_as(admin)
    matching = client.get(f"/plans/{plan.id}/tasks").get_data(as_text=True)
    assert later.code in matching and '<span class="badge">后续检查</span>' in matching
    from flask import current_app
    from flask_login import login_user

    from xcapp.plans.queries import unit_rows

    with current_app.test_request_context():
        login_user(admin)
        assert [count for _unit, count, _draw in unit_rows(plan)] == [3]      # drawn tasks only
    # A second later task while the first runs is refused.
    client.post(f"/oversight/tasks/{original.id}/later", data={"mode": "draw"})
    assert db.session.scalar(select(db.func.count()).select_from(Task).where(Task.kind == "later")) == 1
    _approved(later, admin, conclusion="pass")
    db.session.expire_all()
    item = next(i for i in facts(plan, admin) if i.task.id == original.id)
    assert {"done", "inspected", "pass", "later_done"} <= item.metrics and "later" not in item.metrics
    assert "not_inspected" not in item.metrics
    assert _case(original).state == "closed"
    assert original.enterprise.production_state == "正常生产"
    # The later task is not a row of its own.
    assert len(facts(plan, admin)) == 3
    page = client.get(f"/oversight/?plan={plan.id}").get_data(as_text=True)
    assert "后续检查已完成" in page
    # The enterprise page lists both inspections with results and the case.
    page = client.get(f"/registry/enterprises/{original.enterprise_id}").get_data(as_text=True)
    assert original.code in page and later.code in page and "未能检查：停产" in page and "已结案" in page


def test_returned_to_production_is_listed_for_later_inspection(plan, make_user):
    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[0]
    _approved(original, admin, conclusion="", reason="switched")
    db.session.expire_all()
    assert original.enterprise.production_state == "转产"
    original.enterprise.production_state = "正常生产"
    db.session.commit()
    item = next(i for i in facts(plan, admin) if i.task.id == original.id)
    assert {"later", "later_ready"} <= item.metrics


def test_recheck_task_fail_proposes_revocation_and_decision_updates_registry(plan, client, auth, make_user):
    from xcapp.publicity import categories
    from xcapp.publicity.services import outcome_category
    from xcapp.registry.services import history

    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[1]
    first = _approved(original, admin, conclusion="fail")
    case = _case(original)
    auth.login_as(admin)
    # A malformed date is refused with the field's name and changes nothing.
    for field, label in (("deadline", "期限"), ("decided_on", "决定日期")):
        r = client.post(f"/oversight/cases/{case.id}", data={"action": "order", field: "2023-13-45", "note": "x"},
                        follow_redirects=True)
        assert f"{label}格式应为 2023-12-31" in r.get_data(as_text=True)
        assert _case(original).state != "rectifying"
    client.post(f"/oversight/cases/{case.id}", data={"action": "order", "deadline": local_today().isoformat(),
                                                      "note": "限期整改"})
    assert _case(original).state == "rectifying"
    pool = [o for o in db.session.scalars(select(Task.officers.property.mapper.class_)).all()]
    chosen = sorted({o.officer_id for o in pool})[:2]
    r = client.post(f"/oversight/cases/{case.id}/recheck-task", data={"mode": "choose", "officer": chosen})
    assert r.status_code == 302
    case = _case(original)
    recheck = case.recheck_task
    assert recheck.kind == "recheck" and recheck.origin_task_id == original.id
    assert sorted(o.officer_id for o in recheck.active_officers) == chosen
    assert "复查任务" in client.get(f"/oversight/cases/{case.id}").get_data(as_text=True)
    _approved(recheck, admin, conclusion="fail")
    case = _case(original)
    assert case.state == "recheck_fail"
    assert db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == recheck.id)) is None
    page = client.get(f"/oversight/cases/{case.id}").get_data(as_text=True)
    assert "报请发证机关撤销或吊销" in page and "整改复查仍不合格" in page
    client.post(f"/oversight/cases/{case.id}", data={"action": "revoke", "note": "报请省局吊销"})
    assert _case(original).state == "referred"
    # A decision without its 文号 is refused and changes nothing.
    r = client.post(f"/oversight/cases/{case.id}", data={"action": "decide", "decision": "吊销",
                                                         "decided_on": local_today().isoformat()})
    assert r.status_code == 302 and _case(original).state == "referred"
    assert "请填写决定文号" in client.get(f"/oversight/cases/{case.id}").get_data(as_text=True)
    future = (local_today() + timedelta(days=3)).isoformat()
    client.post(f"/oversight/cases/{case.id}", data={"action": "decide", "decision": "吊销", "decided_on": future,
                                                     "doc_no": "豫市监许吊〔2023〕1号"})
    assert _case(original).state == "referred"
    client.post(f"/oversight/cases/{case.id}", data={"action": "decide", "decision": "吊销",
                                                     "decided_on": local_today().isoformat(),
                                                     "doc_no": "豫市监许吊〔2023〕1号"})
    case = _case(original)
    assert case.state == "closed" and case.decision == "吊销" and case.decision_doc_no == "豫市监许吊〔2023〕1号"
    assert original.enterprise.licence_state == "吊销"
    assert any(h.field == "许可状态" and "吊销" in h.new for h in history("enterprise", original.enterprise_id))
    assert outcome_category(db.session.get(Inspection, first.id)) == categories.CAT_REVOKED


def test_recheck_task_pass_closes_the_rectification(plan, client, auth, make_user):
    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[2]
    _approved(original, admin, conclusion="fail")
    case = _case(original)
    auth.login_as(admin)
    client.post(f"/oversight/cases/{case.id}", data={"action": "order", "deadline": local_today().isoformat()})
    client.post(f"/oversight/cases/{case.id}/recheck-task", data={"mode": "draw", "entropy": "复查"})
    recheck = _case(original).recheck_task
    assert recheck is not None and len(recheck.active_officers) == 2
    _approved(recheck, admin, conclusion="pass")
    case = _case(original)
    assert case.state == "recheck_pass" and case.rectified


def test_decision_cancel_maps_to_deregistered_and_other_decisions_keep_licence(plan, client, auth, make_user):
    from xcapp.publicity import categories
    from xcapp.publicity.services import outcome_category

    admin = make_user("county_admin", "411002")
    a, b = _tasks(plan)[:2]
    ia = _approved(a, admin, conclusion="", reason="deregistered")
    ib = _approved(b, admin, conclusion="fail")
    auth.login_as(admin)
    ca, cb = _case(a), _case(b)
    client.post(f"/oversight/cases/{ca.id}", data={"action": "cancel", "note": "报请注销"})
    client.post(f"/oversight/cases/{ca.id}", data={"action": "decide", "decision": "注销",
                                                   "decided_on": local_today().isoformat(), "doc_no": "注〔2023〕2号"})
    client.post(f"/oversight/cases/{cb.id}", data={"action": "case", "note": "立案"})
    # 立案查处 is not a report to the licensing authority: no decision there.
    client.post(f"/oversight/cases/{cb.id}", data={"action": "decide", "decision": "不予处理",
                                                   "decided_on": local_today().isoformat(), "doc_no": "x"})
    assert _case(b).state == "referred" and _case(b).decision == ""
    db.session.expire_all()
    assert a.enterprise.licence_state == "注销"
    assert outcome_category(db.session.get(Inspection, ia.id)) == categories.CAT_DEREGISTERED
    assert outcome_category(db.session.get(Inspection, ib.id)) == categories.CAT_PROBLEM_PENDING


def test_publication_counts_only_when_confirmed_and_late_is_marked(plan, client, auth, make_user):
    from xcapp.publicity.models import Publication

    admin = make_user("county_admin", "411002")
    t0, t1 = _tasks(plan)[:2]
    i0 = _approved(t0, admin, conclusion="pass")
    i1 = _approved(t1, admin, conclusion="pass")
    db.session.get(Inspection, i1.id).inspection_date = local_today() - timedelta(days=90)   # deadline long passed
    db.session.commit()
    auth.login_as(admin)
    assert client.post(f"/publicity/plans/{plan.id}/export.csv").status_code == 200
    counts = {i.task.id: i.metrics for i in facts(plan, admin)}
    assert "published" not in counts[t0.id]           # exporting is not publishing
    page = client.get(f"/publicity/plans/{plan.id}").get_data(as_text=True)
    assert "未确认" in page and t0.code in page
    pubs = {p.inspection_id: p.id for p in db.session.scalars(select(Publication))}
    future = (local_today() + timedelta(days=1)).isoformat()
    client.post(f"/publicity/plans/{plan.id}/confirm", data={"on": future, "publication": [pubs[i0.id]]})
    assert db.session.get(Publication, pubs[i0.id]).confirmed_on is None
    client.post(f"/publicity/plans/{plan.id}/confirm",
                data={"on": local_today().isoformat(), "publication": list(pubs.values())})
    db.session.expire_all()
    counts = {i.task.id: i.metrics for i in facts(plan, admin)}
    assert {"published", "published_on_time"} <= counts[t0.id]
    assert {"published", "published_late"} <= counts[t1.id]
    log = client.get(f"/publicity/plans/{plan.id}", headers=HX).get_data(as_text=True)
    assert "逾期公示" in log and "按时公示" in log and "<html" not in log
    dashboard = client.get(f"/oversight/?plan={plan.id}").get_data(as_text=True)
    assert "按时公示率" in dashboard


def test_inspection_method_per_task_in_csv(plan, client, auth, make_user):
    admin = make_user("county_admin", "411002")
    t0, t1 = _tasks(plan)[:2]
    auth.login_as(admin)
    r = client.post(f"/plans/tasks/{t0.id}/method", data={"method": "document"}, headers=HX)
    assert r.status_code == 200 and "书面检查" in r.get_data(as_text=True) and "<html" not in r.get_data(as_text=True)
    r = client.post(f"/plans/tasks/{t0.id}/method", data={"method": "x"}, headers=HX)
    assert r.status_code == 422 and "请选择检查方式" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Task, t0.id).method == "document"
    _approved(t0, admin, conclusion="pass")
    _approved(t1, admin, conclusion="", reason="unreachable")
    r = client.post(f"/plans/tasks/{t0.id}/method", data={"method": "online"})
    assert r.status_code == 302 and db.session.get(Task, t0.id).method == "document"   # submitted: fixed
    rows = list(csv.reader(io.StringIO(client.post(f"/publicity/plans/{plan.id}/export.csv").data
                                       .decode("utf-8-sig"))))
    methods = {row[3]: row[8] for row in rows[1:]}
    assert methods == {t0.code: "书面检查", t1.code: "未能实施检查"}


def test_copy_plan_from_last_year(plan, client, auth, make_user):
    auth.login_as(make_user("city_admin", "411000"))
    page = client.get(f"/plans/new?copy={plan.id}").get_data(as_text=True)
    assert f'value="{plan.year + 1}"' in page and f"{plan.year + 1}年后续" in page
    assert "复制为下一年计划" in client.get(f"/plans/{plan.id}").get_data(as_text=True)


def test_self_report_on_the_task_before_the_visit_and_its_match_in_the_pdf(plan, client, auth, make_user):
    from pypdf import PdfReader

    admin = make_user("county_admin", "411002")
    task = _tasks(plan)[0]
    auth.login_as(admin)
    page = client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    assert "企业自查报告" in page and "尚未录入" in page
    bad = client.post(f"/inspections/tasks/{task.id}/self-report",
                      data={"text": "", "file": (io.BytesIO(b"not a pdf"), "r.pdf")},
                      content_type="multipart/form-data")
    assert bad.status_code == 302
    assert "尚未录入" in client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    ok = client.post(f"/inspections/tasks/{task.id}/self-report",
                     data={"text": "企业自查：12 项均符合。", "file": (io.BytesIO(b"%PDF-1.4 test"), "自查.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    page = client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    assert "企业自查：12 项均符合。" in page and "自查.pdf" in page
    inspection = _approved(task, admin, conclusion="pass")
    inspection = db.session.get(Inspection, inspection.id)
    # A report handed in after submission is appended, never changing what was sealed.
    client.post(f"/inspections/tasks/{task.id}/self-report", data={"text": "补交的自查报告"},
                content_type="multipart/form-data")
    db.session.expire_all()
    from xcapp.inspections.models import SelfReport

    assert db.session.get(SelfReport, task.id).text == "企业自查：12 项均符合。"
    assert [a.text for a in db.session.get(Inspection, inspection.id).additions] == ["补交的自查报告"]
    # The PDF prints the match with its note.
    record = db.session.get(Inspection, inspection.id)
    record.self_check_match, record.self_check_note = "partly", "原料台账未按月汇总"
    db.session.commit()
    response = client.get(f"/inspections/{inspection.id}/pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages).replace("\n", "")
    assert "企业自查报告与实际情况的符合性" in text and "基本符合" in text and "原料台账未按月汇总" in text


def test_next_years_draw_excludes_the_officers_of_the_latest_inspection_in_the_history(plan, make_user):
    """The previous-inspection exclusion reads the enterprise's whole history: a later
    inspection after the drawn one is the previous inspection for next year's draw."""
    from xcapp.oversight.services import create_later_task
    from xcapp.plans.services import (copy_plan_data, create_plan, dispatch_plan, draw_enterprises, freeze_plan,
                                      previous_inspectors)

    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[0]
    _approved(original, admin, conclusion="", reason="unreachable")
    later = create_later_task(original.id, None, "后续", admin)
    db.session.commit()
    data = copy_plan_data(plan)
    assert data["scope"] == plan.scope and data["ratios"] == plan.ratios and data["year"] == plan.year + 1
    raw = {"code": "下一年", "name": data["name"], "year": data["year"], "k": data["k"],
           "deadline": data["deadline"].isoformat(), "scope": data["scope"],
           **dict(zip(("ratio_low", "ratio_mid", "ratio_midhigh", "ratio_high"), data["ratios"].values()))}
    plan2 = create_plan(raw)
    freeze_plan(plan2.id)
    draw_enterprises(plan2.id, "z")
    dispatch_plan(plan2.id)
    db.session.commit()
    assert previous_inspectors(plan2, [original.enterprise_id])[original.enterprise_id] == \
        {o.cert_no for o in later.active_officers}


def test_chosen_officers_respect_recusals_and_the_unit(plan, make_user, make_officer):
    from xcapp.oversight.services import create_later_task
    from xcapp.plans.services import PlanError, officer_pool
    from xcapp.registry.services import declare_recusal

    admin = make_user("county_admin", "411002")
    original = _tasks(plan)[0]
    _approved(original, admin, conclusion="", reason="suspended")
    pool = officer_pool(original.unit_id, plan.deadline)
    declare_recusal(pool[0], original.enterprise, "亲属在该企业任职", None)
    outsider = make_officer(unit="411081")
    db.session.commit()
    with pytest.raises(PlanError, match="回避"):
        create_later_task(original.id, [pool[0].id, pool[1].id], None, admin)
    with pytest.raises(PlanError, match="本单位"):
        create_later_task(original.id, [outsider.id, pool[1].id], None, admin)
    other_admin = make_user("county_admin", "411081")
    with pytest.raises(PlanError):
        create_later_task(original.id, None, None, other_admin)
    db.session.rollback()
    later = create_later_task(original.id, None, "抽取", admin)
    assert pool[0].cert_no not in {o.cert_no for o in later.active_officers}
    assert pool[0].cert_no in later.excluded
