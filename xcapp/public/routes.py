import json
from flask import abort, render_template, request
from sqlalchemy import select

from ..core.authz import access
from ..core.responses import file_response
from ..core.models import Unit
from ..core.params import int_arg
from ..extensions import db
from ..plans.models import DRAFT, EnterpriseDraw, InspectorDraw, Plan, PopulationMember, Replacement, Task
from ..plans.services import build_bundle, plans_for_public
from ..registry.models import Enterprise
from . import bp


def _public_plan(plan_id: int) -> Plan:
    plan = db.session.get(Plan, plan_id)
    if plan is None or plan.state == DRAFT:
        abort(404)
    return plan


@bp.route("/")
@access(public=True)
def index():
    return render_template("public/index.html", plans=plans_for_public())


@bp.route("/plans/<int:plan_id>")
@access(public=True)
def receipt(plan_id: int):
    plan = _public_plan(plan_id)
    units = {u.code: u for u in db.session.scalars(select(Unit))}
    per_unit: dict[str, dict[str, int]] = {}
    for unit_code, risk in db.session.execute(select(PopulationMember.unit_code, PopulationMember.risk)
                                              .where(PopulationMember.plan_id == plan.id)):
        per_unit.setdefault(unit_code, {"低": 0, "中": 0, "中高": 0, "高": 0})[risk] += 1
    draws = db.session.scalars(select(EnterpriseDraw).where(EnterpriseDraw.plan_id == plan.id)
                               .order_by(EnterpriseDraw.version)).all()
    current = next((d for d in draws if not d.superseded), None)
    selected = []
    if current is not None:
        names = dict(db.session.execute(select(Enterprise.uscc, Enterprise.name)
                                        .where(Enterprise.uscc.in_(current.selected))).all())
        units_of = dict(db.session.execute(select(PopulationMember.uscc, PopulationMember.unit_code)
                                           .where(PopulationMember.plan_id == plan.id,
                                                  PopulationMember.uscc.in_(current.selected))).all())
        selected = [(uscc, names.get(uscc, ""), units[units_of[uscc]].name) for uscc in current.selected]
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.code)).all()
    officer_draws = db.session.scalars(select(InspectorDraw).where(InspectorDraw.plan_id == plan.id)
                                       .order_by(InspectorDraw.id)).all()
    replacements = db.session.scalars(select(Replacement).join(Task, Task.id == Replacement.task_id)
                                      .where(Task.plan_id == plan.id).order_by(Replacement.id)).all()
    return render_template("public/receipt.html", plan=plan, per_unit=per_unit, units=units, draws=draws,
                           current=current, selected=selected, tasks=tasks, officer_draws=officer_draws,
                           replacements=replacements)


@bp.route("/plans/<int:plan_id>/bundle.json")
@access(public=True)
def bundle(plan_id: int):
    plan = _public_plan(plan_id)
    data = json.dumps(build_bundle(plan), ensure_ascii=False, indent=1)
    response = file_response(data, "application/json", f"draw-bundle-{plan.code}.json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/records/<seal>")
@access(public=True)
def record(seal: str):
    """Does a sealed record with this seal exist, and in which state? (the QR code on the PDF)."""
    from ..inspections.models import Inspection
    from ..inspections.services import seal_intact

    seal = seal.lower()
    if len(seal) < 16 or any(c not in "0123456789abcdef" for c in seal):
        abort(404)
    found = db.session.scalars(select(Inspection).where(Inspection.seal_hash.startswith(seal))).unique().all()
    inspection = found[0] if len(found) == 1 else None
    return render_template("public/record.html", inspection=inspection, seal=seal,
                           intact=seal_intact(inspection) if inspection else False), (200 if inspection else 404)


@bp.route("/results")
@access(public=True)
def results():
    """公示: the published results, by plan, searchable by enterprise name or USCC."""
    from ..publicity.categories import RESULT_CATEGORY_LABELS
    from ..publicity.services import published

    plans = plans_for_public()
    plan = None
    if (request.args.get("plan") or "").strip():   # a plan that is not public (or no number) is not found
        wanted = int_arg(request.args, "plan")
        plan = next((p for p in plans if p.id == wanted), None) or abort(404)
    q = (request.args.get("q") or "").strip()[:60]
    rows = published(plan, q)
    return render_template("public/results.html", plans=plans, plan=plan, q=q, rows=rows,
                           labels=RESULT_CATEGORY_LABELS)
