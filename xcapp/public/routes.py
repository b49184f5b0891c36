import json
from flask import abort, render_template, request

from ..core.authz import access
from ..core.responses import file_response
from ..core.params import int_arg
from ..plans.models import Plan
from ..plans.services import build_bundle, plans_for_public
from . import bp, queries


def _public_plan(plan_id: int) -> Plan:
    return queries.public_plan(plan_id) or abort(404)


@bp.route("/")
@access(public=True)
def index():
    return render_template("public/index.html", plans=plans_for_public())


@bp.route("/plans/<int:plan_id>")
@access(public=True)
def receipt(plan_id: int):
    plan = _public_plan(plan_id)
    return render_template("public/receipt.html", plan=plan, **queries.receipt(plan))


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
    from ..inspections.lifecycle import seal_intact

    seal = seal.lower()
    if len(seal) < 16 or any(c not in "0123456789abcdef" for c in seal):
        abort(404)
    inspection = queries.sealed_record(seal)
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
