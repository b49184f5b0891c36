"""Plans and the verifiable double random draw, through services, web routes and CLI."""
import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from xcapp.audit.models import AuditLog
from xcapp.audit.services import verify_chain
from xcapp.core.models import Unit
from xcapp.extensions import db
from xcapp.plans import sampling
from xcapp.plans.models import EnterpriseDraw, InspectorDraw, Plan, PopulationMember, Replacement, Task, TaskOfficer
from xcapp.plans.services import (PlanError, build_bundle, create_plan, dispatch_plan, draw_enterprises,
                                  draw_officers, freeze_plan, replace_officer)
from xcapp.plans.verify import BundleMismatch, verify_bundle
from xcapp.registry.services import declare_recusal

RISKS = ["低", "中", "中高", "高"]


def plan_raw(code="许市监抽〔2023〕1号", **over):
    raw = {"code": code, "name": "2023年度获证企业监督检查", "year": 2023, "k": 2, "deadline": "2023-10-31",
           "publication_workdays": 20, "ratio_low": 10, "ratio_mid": 20, "ratio_midhigh": 30, "ratio_high": 50,
           "scope": []}
    raw.update(over)
    return raw


@pytest.fixture
def registry(make_enterprise, make_officer):
    """24 enterprises in 魏都区 and 12 in 禹州市 over all risk classes; 5 + 4 officers."""
    enterprises = [make_enterprise(unit="411002", risk=RISKS[i % 4]) for i in range(24)]
    enterprises += [make_enterprise(unit="411081", risk=RISKS[i % 4]) for i in range(12)]
    officers = [make_officer(unit="411002") for _ in range(5)] + [make_officer(unit="411081") for _ in range(4)]
    return enterprises, officers


def unit_id(code):
    return db.session.scalar(select(Unit.id).where(Unit.code == code))


def run_plan(code="许市监抽〔2023〕1号", entropy="福彩3D 第2023183期 5 8 2", officers=True, **over):
    plan = create_plan(plan_raw(code, **over))
    freeze_plan(plan.id)
    draw_enterprises(plan.id, entropy)
    dispatch_plan(plan.id)
    if officers:
        for unit in ("411002", "411081"):
            draw_officers(plan.id, unit_id(unit), "")
    db.session.commit()
    return plan


def test_full_flow_bundle_verifies(app, registry):
    plan = run_plan()
    assert plan.state == "in_progress"
    bundle = build_bundle(plan)
    verify_bundle(json.loads(json.dumps(bundle)))
    # Class sizes are the ceilings of N * p: 9 per class -> 1, 2, 3, 5.
    assert plan.class_counts == {"低": 9, "中": 9, "中高": 9, "高": 9}
    assert len(bundle["selected"]) == 1 + 2 + 3 + 5
    tasks = db.session.scalars(select(Task)).all()
    assert len(tasks) == 11 and all(len(t.active_officers) == 2 for t in tasks)
    assert all(t.unit_id == t.enterprise.unit_id for t in tasks)
    assert verify_chain().ok


def test_freeze_records_digest_before_entropy(app, registry):
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    db.session.commit()
    frozen = db.session.scalar(select(AuditLog).where(AuditLog.action == "plan.frozen"))
    details = json.loads(frozen.details)
    assert details["population_digest"] == plan.population_digest and details["population_count"] == 36
    assert db.session.scalar(select(func.count()).select_from(EnterpriseDraw)) == 0
    # The population cannot change after the freeze: a new enterprise is not in it.
    members = db.session.scalar(select(func.count()).select_from(PopulationMember))
    assert members == 36


def test_population_excludes_ended_and_expired_licences(app, registry, make_enterprise):
    from datetime import date, timedelta

    make_enterprise(licence_state="吊销")
    make_enterprise(licence_state="注销")
    make_enterprise(issue_date=date.today() - timedelta(days=2000), expiry_date=date.today() - timedelta(days=1))
    make_enterprise(production_state="停产")  # stays in
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    assert plan.population_count == 37


def test_scope_limits_population(app, registry, make_enterprise):
    make_enterprise(category_id="水泥", risk="高")
    plan = create_plan(plan_raw(scope=["水泥"]))
    freeze_plan(plan.id)
    assert plan.population_count == 1


def test_plan_validation(app):
    with pytest.raises(PlanError) as info:
        create_plan(plan_raw(ratio_low=120, k=1, code=""))
    assert {"ratio_low", "k", "code"} <= set(info.value.errors)
    assert "不少于 2 人" in info.value.errors["k"]


def test_redraw_needs_reason_keeps_history_and_is_impossible_after_dispatch(app, registry):
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    first = draw_enterprises(plan.id, "first")
    with pytest.raises(PlanError):
        draw_enterprises(plan.id, "second")
    second = draw_enterprises(plan.id, "second", reason="第一次的彩票期号录入错误")
    db.session.commit()
    assert first.superseded and not second.superseded and second.version == 2
    bundle = build_bundle(plan)
    assert [v["version"] for v in bundle["draw_versions"]] == [1, 2]
    assert bundle["entropy"] == "second"
    verify_bundle(bundle)
    dispatch_plan(plan.id)
    db.session.commit()
    with pytest.raises(PlanError, match="不能抽取企业"):
        draw_enterprises(plan.id, "third", reason="想换一批")


def test_server_entropy_recorded_when_empty(app, registry):
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    draw = draw_enterprises(plan.id, "   ")
    assert draw.entropy_source == "server" and len(draw.entropy) == 64
    assert draw.seed == sampling.enterprise_seed(plan.code, plan.population_digest, draw.entropy)


def test_recusal_and_previous_inspection_excluded(app, registry):
    enterprises, officers = registry
    weidu = [o for o in officers if o.unit.code == "411002"]
    plan = run_plan(officers=False)
    task = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411002")).first()
    declare_recusal(weidu[0], task.enterprise, "配偶在该企业任职", None)
    draw_officers(plan.id, unit_id("411002"), "")
    db.session.commit()
    db.session.refresh(task)
    assert weidu[0].cert_no in task.excluded
    assert weidu[0].cert_no not in [o.cert_no for o in task.active_officers]
    # The next plan excludes the officers of this inspection.
    previous = {o.cert_no for o in task.active_officers}
    plan2 = run_plan(code="许市监抽〔2024〕1号", officers=False, year=2024, deadline="2024-10-31")
    again = db.session.scalar(select(Task).where(Task.plan_id == plan2.id, Task.enterprise_id == task.enterprise_id))
    if again is not None:
        draw_officers(plan2.id, unit_id("411002"), "")
        db.session.refresh(again)
        assert previous <= set(again.excluded)
        assert not previous & {o.cert_no for o in again.active_officers}
    from xcapp.plans.services import previous_inspectors

    assert previous_inspectors(plan2, [task.enterprise_id])[task.enterprise_id] == previous


def test_insufficient_pool_writes_nothing(app, make_enterprise, make_officer):
    for i in range(4):
        make_enterprise(unit="411002", risk="高")
    officers = [make_officer(unit="411002") for _ in range(2)]
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "x")
    dispatch_plan(plan.id)
    db.session.commit()
    task = db.session.scalars(select(Task).order_by(Task.uscc)).first()
    declare_recusal(officers[0], task.enterprise, "曾在该企业工作", None)
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(PlanError) as info:
        draw_officers(plan.id, unit_id("411002"), "")
    db.session.rollback()
    assert task.code in info.value.message and "需要 2 人，仅有 1 人" in info.value.message
    assert db.session.scalar(select(func.count()).select_from(TaskOfficer)) == 0
    assert db.session.scalar(select(func.count()).select_from(InspectorDraw)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_officer_pool_requires_active_and_certificate_until_deadline(app, make_enterprise, make_officer):
    from datetime import date

    from xcapp.plans.services import officer_pool

    keep = make_officer(unit="411002")
    make_officer(unit="411002", status="停用")
    make_officer(unit="411002", cert_expiry=date(2023, 9, 30))
    assert [o.id for o in officer_pool(unit_id("411002"), date(2023, 10, 31))] == [keep.id]


def test_replacement_with_reason_versioned_and_in_bundle(app, registry):
    plan = run_plan()
    task = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411002")).first()
    out = task.active_officers[0]
    with pytest.raises(PlanError, match="理由"):
        replace_officer(task.id, out.officer_id, "  ")
    added = replace_officer(task.id, out.officer_id, "因病住院，不能参加检查")
    db.session.commit()
    db.session.refresh(task)
    assert out.active is False and out.replace_reason == "因病住院，不能参加检查"
    assert added.cert_no not in task.excluded and len(task.active_officers) == 2
    bundle = build_bundle(plan)
    verify_bundle(bundle)
    replacements = [r for d in bundle["inspector_draws"] for r in d["replacements"]]
    assert replacements[0]["out"] == out.cert_no and replacements[0]["reason"] == "因病住院，不能参加检查"
    # After the first answer the officers are fixed.
    from xcapp.core.timeutil import utcnow

    task.first_answer_at = utcnow()
    db.session.commit()
    with pytest.raises(PlanError, match="已开始填写"):
        replace_officer(task.id, added.officer_id, "又病了")


MUTATIONS = ["selected", "entropy", "population", "pool", "assignment"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verify_rejects_any_altered_app_bundle(app_bundle, data):
    bundle = json.loads(json.dumps(app_bundle))
    verify_bundle(bundle)
    what = data.draw(st.sampled_from(MUTATIONS))
    if what == "selected":
        i = data.draw(st.integers(0, len(bundle["selected"]) - 1))
        others = [p["uscc"] for p in bundle["population"] if p["uscc"] not in bundle["selected"]]
        bundle["selected"][i] = data.draw(st.sampled_from(others))
    elif what == "entropy":
        bundle["entropy"] += data.draw(st.text(min_size=1, alphabet="0123456789abc"))
    elif what == "population":
        i = data.draw(st.integers(0, len(bundle["population"]) - 1))
        entry = bundle["population"][i]
        entry["risk"] = data.draw(st.sampled_from([r for r in RISKS if r != entry["risk"]]))
    elif what == "pool":
        draw = bundle["inspector_draws"][data.draw(st.integers(0, len(bundle["inspector_draws"]) - 1))]
        draw["pool"][data.draw(st.integers(0, len(draw["pool"]) - 1))] = "豫许执99999"
    else:
        draw = bundle["inspector_draws"][data.draw(st.integers(0, len(bundle["inspector_draws"]) - 1))]
        assignment = draw["assignments"][data.draw(st.integers(0, len(draw["assignments"]) - 1))]
        others = [c for c in draw["pool"] if c not in assignment["inspectors"]]
        assignment["inspectors"][data.draw(st.integers(0, 1))] = data.draw(st.sampled_from(others))
    with pytest.raises(BundleMismatch):
        verify_bundle(bundle)


@pytest.fixture
def app_bundle(app, registry):
    return build_bundle(run_plan())


def test_cli_flow_and_verify(runner, registry, tmp_path):
    code = "许市监抽〔2023〕1号"
    assert runner.invoke(args=["plans", "create", "--code", code, "--name", "测试计划", "--year", "2023"]).exit_code == 0
    freeze = runner.invoke(args=["plans", "freeze", code])
    assert freeze.exit_code == 0 and "population_digest" in freeze.output
    draw = runner.invoke(args=["plans", "draw", code, "--entropy", "2023-07-10 福彩3D 第2023183期 开奖号码 5 8 2"])
    assert draw.exit_code == 0, draw.output
    assert runner.invoke(args=["plans", "draw", code]).exit_code != 0  # a redraw without reason is refused
    assert runner.invoke(args=["plans", "dispatch", code]).exit_code == 0
    result = runner.invoke(args=["plans", "draw-officers", code, "--unit", "411002", "--entropy", "见证人 A 7 B 3"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["plans", "draw-officers", code]).exit_code == 0
    out = tmp_path / "bundle.json"
    assert runner.invoke(args=["plans", "bundle", code, "-o", str(out)]).exit_code == 0
    ok = runner.invoke(args=["draw", "verify", str(out)])
    assert ok.exit_code == 0 and "OK" in ok.output
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert "phone" not in out.read_text(encoding="utf-8")
    bundle["inspector_draws"][0]["entropy"] = "tampered"
    out.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    bad = runner.invoke(args=["draw", "verify", str(out)])
    assert bad.exit_code != 0 and "inspector_draws[0]" in bad.output


def test_double_post_draws_once(client, auth, make_user, registry):
    auth.login_as(make_user("city_admin"))
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    db.session.commit()
    first = client.post(f"/plans/{plan.id}/draw", data={"entropy": "a"})
    second = client.post(f"/plans/{plan.id}/draw", data={"entropy": "a"})
    assert first.status_code == second.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(EnterpriseDraw)) == 1
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "不能抽取企业" in page or "重新抽取必须填写理由" in page


def test_concurrent_draws_draw_once(app, registry):
    plan = create_plan(plan_raw())
    freeze_plan(plan.id)
    dispatchable = plan.id
    db.session.commit()
    results = []

    def worker():
        with app.test_request_context(method="POST"):
            try:
                draw_enterprises(dispatchable, "same")
                db.session.commit()
                results.append("ok")
            except PlanError:
                db.session.rollback()
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused"]
    assert db.session.scalar(select(func.count()).select_from(EnterpriseDraw)) == 1


def test_get_routes_change_nothing(app, client, auth, make_user, registry):
    """Every GET route, for every role, leaves every table as it was."""
    from flask import url_for

    plan = run_plan()
    users = {"city": make_user("city_admin"), "county": make_user("county_admin", "411002"),
             "inspector": make_user("inspector", "411002"), "readonly": make_user("readonly")}
    task = db.session.scalars(select(Task)).first()
    task.active_officers[0].officer.user_id = users["inspector"].id
    from xcapp.inspections.lifecycle import start

    inspection = start(task.id, users["inspector"])
    db.session.commit()
    values = {"plan_id": plan.id, "task_id": task.id, "unit_id": task.unit_id, "enterprise_id": task.enterprise_id,
              "officer_id": task.active_officers[0].officer_id, "kind": "enterprises", "fmt": "csv",
              "inspection_id": inspection.id, "item_no": 3}

    def snapshot():
        db.session.expire_all()
        return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}

    before = snapshot()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or not set(rule.arguments) <= set(values):
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
        for user in [None, *users.values()]:
            if user is None:
                auth.logout()
            else:
                auth.login_as(user)
            client.get(url).close()
            client.get(url, headers={"HX-Request": "true"}).close()
    assert snapshot() == before


def test_public_receipt_and_bundle_without_login(client, registry):
    plan = run_plan()
    task = db.session.scalars(select(Task)).first()
    db.session.refresh(task)
    officer = task.active_officers[0].officer
    page = client.get(f"/public/plans/{plan.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for expected in (plan.code, plan.population_digest, plan.current_draw.seed, "福彩3D", task.enterprise.name,
                     task.uscc, officer.name, officer.cert_no, "如何复核"):
        assert expected in text, expected
    assert officer.phone not in text
    bundle = client.get(f"/public/plans/{plan.id}/bundle.json")
    assert bundle.status_code == 200 and "attachment" in bundle.headers["Content-Disposition"]
    verify_bundle(json.loads(bundle.data))
    assert b"13800000000" not in bundle.data


def test_draft_plan_not_public(client, app):
    plan = create_plan(plan_raw())
    db.session.commit()
    assert client.get(f"/public/plans/{plan.id}").status_code == 404
    assert client.get(f"/public/plans/{plan.id}/bundle.json").status_code == 404


def test_web_flow_city_and_county(client, auth, make_user, registry):
    city = make_user("city_admin")
    auth.login_as(city)
    response = client.post("/plans/new", data={**plan_raw(), "scope": []})
    assert response.status_code == 302, response.get_data(as_text=True)
    plan = db.session.scalar(select(Plan))
    detail = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "冻结前预览" in detail and "将抽取（共 11 户）" in detail
    assert client.post(f"/plans/{plan.id}/freeze").status_code == 302
    assert client.post(f"/plans/{plan.id}/draw", data={"entropy": "x"}).status_code == 302
    assert client.post(f"/plans/{plan.id}/dispatch").status_code == 302
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).state == "dispatched"
    # The county admin sees its own tasks at once and draws its officers.
    auth.login_as(make_user("county_admin", "411002"))
    tasks = client.get(f"/plans/{plan.id}/tasks").get_data(as_text=True)
    weidu = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411002")).all()
    yuzhou = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411081")).all()
    assert all(t.code in tasks for t in weidu) and not any(t.code in tasks for t in yuzhou)
    assert client.post(f"/plans/{plan.id}/units/{unit_id('411081')}/draw-officers", data={}).status_code == 404
    assert client.post(f"/plans/{plan.id}/units/{unit_id('411002')}/draw-officers", data={}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(InspectorDraw)) == 1
    matching = client.get(f"/plans/{plan.id}/tasks").get_data(as_text=True)
    assert "豫许执" in matching
    # The officer finds the task on their phone.
    task = weidu[0]
    db.session.refresh(task)
    officer = task.active_officers[0].officer
    inspector = make_user("inspector", "411002", username="jc_phone")
    officer.user_id = inspector.id
    db.session.commit()
    auth.login_as(inspector)
    mine = client.get("/inspections/mine").get_data(as_text=True)
    assert task.enterprise.name in mine
    assert client.get(f"/plans/tasks/{task.id}").status_code == 200
    other = next(t for t in weidu if officer.id not in [o.officer_id for o in t.active_officers])
    assert client.get(f"/plans/tasks/{other.id}").status_code == 404
    # ... and the enterprise of the task, but no other one.
    assert client.get(f"/registry/enterprises/{task.enterprise_id}").status_code == 200
    assert client.get(f"/registry/enterprises/{other.enterprise_id}").status_code == 404


def test_web_replacement(client, auth, make_user, registry):
    plan = run_plan()
    task = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411002")).first()
    out = task.active_officers[0]
    auth.login_as(make_user("county_admin", "411002"))
    url = f"/plans/tasks/{task.id}/officers/{out.officer_id}/replace"
    client.post(url, data={"reason": ""})
    assert db.session.scalar(select(func.count()).select_from(Replacement)) == 0
    client.post(url, data={"reason": "后来申报回避"})
    assert db.session.scalar(select(func.count()).select_from(Replacement)) == 1
    page = client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    assert "后来申报回避" in page and "已更换" in page
    auth.login_as(make_user("county_admin", "411081"))
    assert client.post(url, data={"reason": "x"}).status_code == 404
    assert plan.code


def test_all_units_draw_skips_failing_unit_and_stores_the_rest(app, make_enterprise, make_officer, client, auth,
                                                               make_user):
    for i in range(8):
        make_enterprise(unit="411002", risk="高")
        make_enterprise(unit="411081", risk="高")
    for _ in range(3):
        make_officer(unit="411002")
    make_officer(unit="411081")  # one officer: 禹州市 cannot get 2 per task
    plan = run_plan(officers=False)
    auth.login_as(make_user("city_admin"))
    client.post(f"/plans/{plan.id}/draw-officers", data={"entropy": ""})
    draws = db.session.scalars(select(InspectorDraw)).all()
    assert [d.unit.code for d in draws] == ["411002"]
    weidu_tasks = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411002")).all()
    yuzhou_tasks = db.session.scalars(select(Task).join(Unit).where(Unit.code == "411081")).all()
    assert all(len(t.active_officers) == 2 for t in weidu_tasks)
    assert all(not t.officers for t in yuzhou_tasks)
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "禹州市可抽取的检查人员只有 1 人" in page
    db.session.refresh(plan)
    assert plan.state == "dispatched"
    # Each drawn unit's server entropy is its own and recorded.
    assert all(len(d.entropy) == 64 and d.entropy_source == "server" for d in draws)
