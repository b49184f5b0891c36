"""The checklist page render (median, p95; floor: /healthz in the same app) and the
publicity CSV of 10,000 approved tasks (floor: loading those rows)."""
from __future__ import annotations

from datetime import date

from .common import Report, databases, fresh_database, make_app, median, p95, timed

CSV_ROWS = 10_000


def _checklist(report: Report, kind: str, app) -> None:
    from sqlalchemy import select

    from xcapp.demo import load_demo
    from xcapp.extensions import db
    from xcapp.inspections.models import Inspection

    accounts = {a["username"]: a["password"] for a in load_demo()}
    inspection = db.session.scalar(select(Inspection).where(Inspection.state == "draft"))
    officer_user = next(o.officer.user for o in inspection.task.active_officers if o.officer.user)
    client = app.test_client()
    from xcapp.auth.services import set_password

    set_password(officer_user.username, "bench-password-1")
    db.session.commit()
    client.post("/auth/login", data={"username": officer_user.username, "password": "bench-password-1"})
    url = f"/inspections/tasks/{inspection.task_id}"
    assert client.get(url).status_code == 200
    pages = [timed(lambda: client.get(url))[1][0] for _ in range(40)]
    floor = [timed(lambda: client.get("/healthz"))[1][0] for _ in range(40)]
    report.add(f"checklist page render [{kind}, 12 items, equipment, signatures]: median {median(pages) * 1000:.1f} ms, "
               f"p95 {p95(pages) * 1000:.1f} ms; floor /healthz {median(floor) * 1000:.2f} ms; "
               f"ratio {median(pages) / median(floor):.0f}x")
    del accounts


def _csv(report: Report, kind: str) -> None:
    from sqlalchemy import select

    from bench.draw_bench import load_registry
    from xcapp.db_setup import bulk_insert
    from xcapp.extensions import db
    from xcapp.inspections.models import Inspection
    from xcapp.plans.models import Plan, Task
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, freeze_plan
    from xcapp.publicity.services import export_publicity

    load_registry(CSV_ROWS + 500, 0, 9)
    plan = create_plan({"code": "BENCH-CSV", "name": "bench", "year": 2026, "k": 2, "deadline": "2026-12-31",
                        "ratio_low": 100, "ratio_mid": 100, "ratio_midhigh": 100, "ratio_high": 100, "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "bench")
    dispatch_plan(plan.id)
    db.session.commit()
    task_ids = db.session.scalars(select(Task.id).where(Task.plan_id == plan.id).order_by(Task.code)
                                  .limit(CSV_ROWS)).all()
    bulk_insert(db.session, Inspection.__table__, [
        {"task_id": t, "revision": 1, "state": "approved", "method": "实地检查", "problem_summary": "",
         "summary_edited": False, "equipment_confirmed_by": "", "self_check_match": "", "self_check_note": "",
         "enterprise_opinion": "", "enterprise_rep": "", "refused": False, "refusal_reason": "",
         "refusal_attested_by": "[]", "not_inspected_reason": "", "not_inspected_remark": "",
         "inspection_date": date(2026, 9, 1), "conclusion": "pass", "submitted_by": "", "seal_hash": "x",
         "reviewed_by": "", "return_reason": "", "created_at": date(2026, 9, 1)} for t in task_ids])
    db.session.commit()
    plan = db.session.get(Plan, plan.id)
    _, floor = timed(lambda: db.session.scalars(select(Inspection).join(Task).where(Task.plan_id == plan.id)).all())
    db.session.expire_all()
    data, first = timed(lambda: export_publicity(plan))
    db.session.commit()
    db.session.expire_all()
    _, again = timed(lambda: export_publicity(plan))
    db.session.commit()
    report.add(f"publicity CSV [{kind}, {CSV_ROWS} rows, {len(data) // 1024} KB]: first export {first[0]:.2f} s "
               f"(records first publication), re-export {again[0]:.2f} s; floor = loading the rows {floor[0]:.2f} s; "
               f"ratio {first[0] / floor[0]:.1f}x")


def run(report: Report) -> None:
    from xcapp.extensions import db

    for kind in databases():
        with fresh_database(kind) as url:
            app = make_app(url)
            with app.app_context():
                _checklist(report, kind, app)
                db.session.remove()
                db.engine.dispose()
        with fresh_database(kind) as url:
            app = make_app(url)
            with app.app_context():
                _csv(report, kind)
                db.session.remove()
                db.engine.dispose()
