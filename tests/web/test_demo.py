from sqlalchemy import func, select

from xcapp.auth.models import User
from xcapp.demo import DEMO_ACCOUNTS
from xcapp.extensions import db


def test_demo_load_is_idempotent_and_every_login_works(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "演示账号" in first.output
    count = db.session.scalar(select(func.count()).select_from(User))
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0
    db.session.expire_all()
    # Demo officers on the demo inspections get accounts nobody is told; a second load adds none.
    assert db.session.scalar(select(func.count()).select_from(User)) == count >= len(DEMO_ACCOUNTS)
    # The same passwords are printed both times, and each one logs in.
    from xcapp.demo import read_accounts

    accounts = read_accounts()
    assert {a["username"] for a in accounts} == {a[0] for a in DEMO_ACCOUNTS}
    for account in accounts:
        assert f"{account['username']}" in second.output and account["password"] in second.output
        client = app.test_client()
        response = client.post("/auth/login", data={"username": account["username"], "password": account["password"]})
        assert response.status_code == 302, account["username"]
        assert client.get("/home").status_code == 200


def test_demo_load_if_empty_skips_populated_database(app, runner, make_user):
    make_user("city_admin", username="existing")
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "跳过" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_demo_registries(app, runner):
    from xcapp.registry.models import Enterprise, EquipmentRecord, Officer, Recusal

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    enterprises = db.session.scalars(select(Enterprise)).all()
    assert 280 <= len(enterprises) <= 320
    assert {e.risk for e in enterprises} == {"低", "中", "中高", "高"}
    assert len({e.unit_id for e in enterprises}) == 9
    assert any(ch in e.name for e in enterprises for ch in "喆堃玥")
    assert any(e.expiry_warning() == "expired" for e in enterprises)
    assert any(e.expiry_warning() == "soon" for e in enterprises)
    assert db.session.scalar(select(func.count()).select_from(EquipmentRecord)) >= 2 * len(enterprises)
    assert db.session.scalar(select(func.count()).select_from(Officer)) == 60
    assert db.session.scalar(select(func.count()).select_from(Recusal)) >= 3
    linked = db.session.scalar(select(Officer).join(User, User.id == Officer.user_id)
                               .where(User.username == "weidu_jc1"))
    assert linked is not None and linked.unit.code == "411002"
    # A second load changes nothing.
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == len(enterprises)


def test_demo_plan_drawn_dispatched_with_officers(app, runner):
    import json

    from xcapp.plans.models import Plan, Task, TaskOfficer
    from xcapp.plans.services import build_bundle
    from xcapp.plans.verify import verify_bundle
    from xcapp.registry.models import Officer

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    plan = db.session.scalar(select(Plan).where(Plan.code == "许市监抽〔2023〕1号"))
    assert plan.state == "in_progress"
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id)).all()
    assert tasks and all(len(t.active_officers) == 2 for t in tasks)
    verify_bundle(json.loads(json.dumps(build_bundle(plan))))
    # Every demo inspector account finds at least one task.
    for username in ("weidu_jc1", "weidu_jc2", "jingkai_jc1"):
        count = db.session.scalar(select(func.count()).select_from(TaskOfficer)
                                  .join(Officer, Officer.id == TaskOfficer.officer_id)
                                  .join(User, User.id == Officer.user_id).where(User.username == username))
        assert count >= 1, username


def test_demo_inspections_cover_every_outcome(app, runner):
    from xcapp.inspections.models import Inspection
    from xcapp.inspections.lifecycle import seal_intact

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    inspections = db.session.scalars(select(Inspection)).all()
    states = {(i.state, i.conclusion, i.not_inspected_reason, i.refused) for i in inspections}
    assert ("approved", "pass", "", False) in states
    assert any(s[1] == "fail" for s in states)
    assert any(s[3] for s in states)                      # a refusal to sign
    assert any(s[2] == "suspended" for s in states)       # 停产
    assert any(s[0] == "draft" for s in states)           # still open
    assert all(seal_intact(i) for i in inspections if i.seal_hash)
    from xcapp.audit.services import verify_chain

    assert verify_chain().ok


def test_demo_steps_run_in_dependency_order_whatever_was_imported_first(app):
    """The demo's steps were once registered in import order: a test (or a command) that imported
    the plan's demo module before the registry's made the plan load before the enterprises
    existed. The order is one plain list in xcapp.demo."""
    import importlib

    for name in ["xcapp.demo.publicity", "xcapp.demo.oversight", "xcapp.demo.plans", "xcapp.demo.inspections",
                 "xcapp.demo.registry"]:
        importlib.import_module(name)
    from xcapp.demo import demo_steps, load_demo

    assert [(step.__module__, step.__name__) for step in demo_steps()] == [
        ("xcapp.demo.registry", "load_registries"), ("xcapp.demo.plans", "load_plan"),
        ("xcapp.demo.inspections", "load_inspections"), ("xcapp.demo.oversight", "load_follow_up"),
        ("xcapp.demo.oversight", "load_follow_through"), ("xcapp.demo.publicity", "load_publications")]
    load_demo()
    from sqlalchemy import func, select

    from xcapp.plans.models import Task

    assert db.session.scalar(select(func.count()).select_from(Task)) > 0
