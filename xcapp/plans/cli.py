"""`flask plans ...` (create, freeze, draw, dispatch, draw-officers, bundle) and `flask draw verify`.
The `tasks` group is here, with the tasks; inspections and reports add their commands to it."""
from __future__ import annotations

import click

from ..core.cli import fail
from ..extensions import db
from . import bp


@bp.cli.group("plans")
def plans_cli():
    """抽查计划与抽取"""


@bp.cli.group("draw")
def draw_cli():
    """抽取复核"""


@bp.cli.group("tasks")
def tasks_cli():
    """抽查任务"""


def plan_by_code(code: str):
    from .models import Plan

    plan = db.session.scalar(db.select(Plan).where(Plan.code == code))
    if plan is None:
        fail(f"错误：抽查计划 {code} 不存在")
    return plan


def task_by_code(code: str):
    from .models import Task

    task = db.session.scalar(db.select(Task).where(Task.code == code))
    if task is None:
        fail(f"错误：抽查任务 {code} 不存在")
    return task


def _run_step(step, done: str) -> None:
    from .services import PlanError

    try:
        result = step()
        db.session.commit()
    except PlanError as exc:
        db.session.rollback()
        detail = "；".join(exc.errors.values())
        fail(f"错误：{exc.message}{'：' + detail if detail else ''}")
    click.echo(done if not callable(done) else done(result))


@plans_cli.command("create")
@click.option("--code", required=True, help="计划编号, e.g. 许市监抽〔2023〕1号")
@click.option("--name", required=True)
@click.option("--year", type=int, required=True)
@click.option("--ratios", default="10,20,30,50", show_default=True, help="低,中,中高,高 (whole percents)")
@click.option("--k", type=int, default=2, show_default=True, help="officers per enterprise (>= 2)")
@click.option("--deadline", default="", help="YYYY-MM-DD (default 31 October of the year)")
@click.option("--category", "categories", multiple=True, help="product category in scope (repeatable; none = all)")
def plans_create(code, name, year, ratios, k, deadline, categories):
    """Create a plan (draft)."""
    from .services import create_plan
    from .vocab import RatioField

    parts = [p.strip() for p in ratios.split(",")]
    if len(parts) != 4:
        fail("错误：--ratios 应为 4 个整数百分比，如 10,20,30,50")
    raw = {"code": code, "name": name, "year": year, "k": k, "deadline": deadline or None,
           "publication_workdays": 20, "scope": list(categories),
           **dict(zip(RatioField, parts, strict=True))}
    _run_step(lambda: create_plan(raw), lambda plan: f"已创建计划 {plan.code}（草稿）")


@plans_cli.command("freeze")
@click.argument("plan_code")
def plans_freeze(plan_code):
    """Freeze the population; prints its digest and counts."""
    from .services import freeze_plan

    plan = plan_by_code(plan_code)
    _run_step(lambda: freeze_plan(plan.id), lambda p: f"名单已冻结：{p.population_count} 户 {p.class_counts}\n"
                                                      f"population_digest {p.population_digest}")


@plans_cli.command("draw")
@click.argument("plan_code")
@click.option("--entropy", default="", help="public randomness (empty: 32 random bytes from the server)")
@click.option("--reason", default="", help="required for a redraw before dispatch")
def plans_draw(plan_code, entropy, reason):
    """Draw the enterprises."""
    from .services import draw_enterprises

    plan = plan_by_code(plan_code)
    _run_step(lambda: draw_enterprises(plan.id, entropy, reason=reason),
              lambda d: f"已抽取 {len(d.selected)} 户（第 {d.version} 次）\nentropy {d.entropy}\nseed {d.seed}")


@plans_cli.command("dispatch")
@click.argument("plan_code")
def plans_dispatch(plan_code):
    """Turn the selected enterprises into tasks of their units."""
    from .services import dispatch_plan

    plan = plan_by_code(plan_code)
    _run_step(lambda: dispatch_plan(plan.id), lambda tasks: f"已派发 {len(tasks)} 项任务")


@plans_cli.command("draw-officers")
@click.argument("plan_code")
@click.option("--unit", "unit_code", default="", help="unit code; default: every unit not drawn yet")
@click.option("--entropy", default="")
def plans_draw_officers(plan_code, unit_code, entropy):
    """Draw the officers of one unit (or of every unit still to draw)."""
    from ..core.models import Unit
    from .services import PlanError, draw_officers_many, units_without_officer_draw

    plan = plan_by_code(plan_code)
    if unit_code:
        unit = db.session.scalar(db.select(Unit).where(Unit.code == unit_code))
        if unit is None:
            fail(f"错误：未知单位代码 {unit_code}")
        units = [unit]
    else:
        units = units_without_officer_draw(plan)
    try:
        result = draw_officers_many(plan.id, [u.id for u in units], entropy)
        db.session.commit()
    except PlanError as exc:
        db.session.rollback()
        fail(f"错误：{exc.message}")
    for draw in result.drawn:
        click.echo(f"{draw.unit.name}：已抽取，人员池 {len(draw.pool)} 人，上限 {draw.cap}，seed {draw.seed}")
    for unit, reason in result.failed:
        click.echo(reason, err=True)
    if result.failed:
        fail(f"{len(result.failed)} 个单位抽取失败（这些单位未写入任何结果）")


@plans_cli.command("bundle")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def plans_bundle(plan_code, output):
    """Write the public bundle of the plan's draws (JSON)."""
    import json

    from .services import PlanError, build_bundle

    plan = plan_by_code(plan_code)
    try:
        bundle = build_bundle(plan)
    except PlanError as exc:
        fail(f"错误：{exc.message}")
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(bundle, fh, ensure_ascii=False, indent=1)
    click.echo(f"已写入 {output}")


@draw_cli.command("verify")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False))
def draw_verify(bundle_file):
    """Recompute every draw from the bundle alone; exit 1 naming the first mismatch."""
    import json

    from .verify import BundleMismatch, verify_bundle

    try:
        with open(bundle_file, encoding="utf-8") as fh:
            bundle = json.load(fh)
    except (OSError, ValueError) as exc:
        fail(f"cannot read bundle: {exc}")
    try:
        verify_bundle(bundle)
    except BundleMismatch as exc:
        fail(f"MISMATCH: {exc}")
    draws = bundle.get("inspector_draws", [])
    click.echo(f"OK: {bundle['plan']['code']}: population {len(bundle['population'])}, "
               f"selected {len(bundle.get('selected', []))}, tasks {len(bundle.get('tasks', []))}, "
               f"inspector draws {len(draws)}, replacements {sum(len(d.get('replacements', [])) for d in draws)}")
