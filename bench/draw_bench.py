"""Draw benchmarks at national scale: the enterprise draw over 150,000 enterprises and
the officer draw for about 30,000 tasks (targets: at most 2 s each, database round
trips included), each beside the time to merely load the rows it works on."""
from __future__ import annotations

import os
from datetime import date

from .common import Report, databases, fresh_database, make_app, timed

# (enterprises, officers, county-level units). The city is Xuchang's 9 units; a province
# has about 150 county-level bureaus and the nation about 2,800: each unit draws from its
# own officers, and the protocol ranks every pool member for every task of the unit, so
# the cost is the sum over units of tasks x pool size (see the "dense" line printed).
SIZES = {"city": (500, 60, 9), "province": (20_000, 2_000, 150), "nation": (150_000, 15_000, 2_800)}
TODAY = date(2026, 11, 1)


def load_registry(n_enterprises: int, n_officers: int, n_units: int = 9, only_units: list[str] | None = None) -> None:
    """Bulk-load synthetic enterprises and officers (no history: this is benchmark data)."""
    from xcapp.core.models import Unit
    from xcapp.db_setup import bulk_insert
    from xcapp.extensions import db
    from xcapp.registry.models import Enterprise, Officer, ProductCategory
    from xcapp.demo.synthetic import generate_enterprises, generate_officers

    existing = db.session.scalar(db.select(db.func.count()).select_from(Unit)) - 1
    if n_units > existing:
        bulk_insert(db.session, Unit.__table__, [
            {"code": f"9{i:05d}", "name": f"基准单位{i}", "full_name": f"基准单位{i}市场监督管理局", "kind": "county",
             "sort_order": 100 + i} for i in range(n_units - existing)])
    units = {u.code: u.id for u in db.session.scalars(db.select(Unit))
             if u.code != "411000" and (not only_units or u.code in only_units)}
    categories = {c.name: c.id for c in db.session.scalars(db.select(ProductCategory))}
    now = TODAY
    rows = [{"name": r["name"], "uscc": r["uscc"], "address": r["address"],
             "production_address": r["production_address"], "legal_rep": r["legal_rep"], "contact": r["contact"],
             "phone": r["phone"], "licence_no": r["licence_no"], "issue_date": r["issue_date"],
             "expiry_date": r["expiry_date"], "category_id": categories[r["category"]],
             "product_scope": r["product_scope"], "unit_id": units[r["unit"]], "risk": r["risk"],
             "production_state": r["production_state"], "licence_state": r["licence_state"],
             "created_at": now, "updated_at": now}
            for r in generate_enterprises(n_enterprises, list(units), list(categories), seed=7, today=TODAY)]
    bulk_insert(db.session, Enterprise.__table__, rows)
    officers = [{"name": r["name"], "unit_id": units[r["unit"]], "position": r["position"], "phone": r["phone"],
                 "cert_no": r["cert_no"], "cert_expiry": r["cert_expiry"],
                 "status": "在岗" if r["active"] else "停用", "specialty_id": None, "user_id": None,
                 "created_at": now, "updated_at": now}
                for r in generate_officers(n_officers, list(units), list(categories), seed=7, today=TODAY)]
    bulk_insert(db.session, Officer.__table__, officers)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()


def run(report: Report) -> None:
    from sqlalchemy import select

    from xcapp.extensions import db
    from xcapp.plans.models import Task
    from xcapp.plans.services import (create_plan, dispatch_plan, draw_enterprises, draw_officers_many,
                                      freeze_plan, population_rows, units_without_officer_draw)
    from xcapp.registry.models import Officer

    sizes = os.environ.get("BENCH_SIZES", "city,province,nation").split(",")
    for size in sizes:
        n_ent, n_off, n_units = SIZES[size]
        for kind in databases():
            with fresh_database(kind) as url:
                app = make_app(url)
                with app.app_context():
                    load_registry(n_ent, n_off, n_units)
                    plan = create_plan({"code": f"BENCH-{size}", "name": "bench", "year": 2026, "k": 2,
                                        "deadline": "2026-12-31", "ratio_low": 10, "ratio_mid": 20,
                                        "ratio_midhigh": 30, "ratio_high": 50, "scope": []})
                    db.session.commit()
                    _, floor = timed(lambda: population_rows(plan, TODAY), repeat=3)

                    def step(fn):
                        result = fn()
                        db.session.commit()
                        return result

                    _, freeze = timed(lambda: step(lambda: freeze_plan(plan.id)))
                    draw, t_draw = timed(lambda: step(lambda: draw_enterprises(plan.id, "bench")))
                    _, t_dispatch = timed(lambda: step(lambda: dispatch_plan(plan.id)))
                    n_tasks = len(draw.selected)
                    report.add(f"enterprise draw [{size} {n_ent} enterprises, {kind}]: draw {t_draw[0]:.2f} s, "
                               f"freeze {freeze[0]:.2f} s, dispatch {t_dispatch[0]:.2f} s ({n_tasks} tasks); "
                               f"floor = loading the population rows {min(floor):.2f} s; "
                               f"ratio draw/floor {t_draw[0] / min(floor):.1f}x (target draw <= 2 s)")

                    def load_officer_rows():
                        tasks = db.session.execute(select(Task.id, Task.code, Task.uscc, Task.unit_id,
                                                          Task.enterprise_id).where(Task.plan_id == plan.id)).all()
                        officers = db.session.execute(select(Officer.id, Officer.cert_no, Officer.unit_id)).all()
                        return len(tasks) + len(officers)

                    _, o_floor = timed(load_officer_rows, repeat=3)
                    units = units_without_officer_draw(plan)
                    pairs = _rank_work(plan)

                    def all_units():
                        result = draw_officers_many(plan.id, [u.id for u in units], "bench")
                        db.session.commit()
                        return result

                    result, t_officers = timed(all_units)
                    report.add(f"officer draw [{size} {n_tasks} tasks, {n_off} officers, {len(units)} units, {kind}]: "
                               f"{t_officers[0]:.2f} s ({len(result.drawn)} units drawn, {len(result.failed)} failed; "
                               f"{pairs:,} task x pool rankings); floor = loading task and officer rows "
                               f"{min(o_floor):.2f} s; ratio {t_officers[0] / min(o_floor):.1f}x (target <= 2 s)")
                    db.session.remove()
                    db.engine.dispose()


def _rank_work(plan) -> int:
    """Sum over units of tasks x pool size: the HMACs the protocol needs."""
    from sqlalchemy import func, select

    from xcapp.extensions import db
    from xcapp.plans.models import Task
    from xcapp.plans.services import in_pool
    from xcapp.registry.models import Officer

    tasks = dict(db.session.execute(select(Task.unit_id, func.count()).where(Task.plan_id == plan.id)
                                    .group_by(Task.unit_id)).all())
    pools = dict(db.session.execute(select(Officer.unit_id, func.count()).where(in_pool(plan.deadline))
                                    .group_by(Officer.unit_id)).all())
    return sum(n * pools.get(unit, 0) for unit, n in tasks.items())


def dense(report: Report) -> None:
    """The worst case the protocol allows: a whole province's officers in Xuchang's 9 units."""
    from xcapp.extensions import db
    from xcapp.plans.services import (create_plan, dispatch_plan, draw_enterprises, draw_officers_many,
                                      freeze_plan, units_without_officer_draw)

    with fresh_database("sqlite") as url:
        app = make_app(url)
        with app.app_context():
            load_registry(20_000, 2_000, 9)
            plan = create_plan({"code": "BENCH-dense", "name": "bench", "year": 2026, "k": 2,
                                "deadline": "2026-12-31", "ratio_low": 10, "ratio_mid": 20,
                                "ratio_midhigh": 30, "ratio_high": 50, "scope": []})
            freeze_plan(plan.id)
            draw_enterprises(plan.id, "bench")
            dispatch_plan(plan.id)
            db.session.commit()
            pairs = _rank_work(plan)
            units = units_without_officer_draw(plan)
            _, t = timed(lambda: draw_officers_many(plan.id, [u.id for u in units], "bench"))
            db.session.commit()
            report.add(f"officer draw, dense [20000 enterprises, 2000 officers in 9 units, sqlite]: {t[0]:.2f} s "
                       f"for {pairs:,} task x pool rankings ({t[0] / pairs * 1e6:.2f} us each)")
            db.session.remove()
            db.engine.dispose()
