"""Command-line interface: `flask --app wsgi ...`. Commands call services and hold no logic."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db


def fail(message: str, code: int = 1):
    click.echo(message, err=True)
    sys.exit(code)


users_cli = AppGroup("users", help="登录账号 (accounts)")
audit_cli = AppGroup("audit", help="审计日志 (audit log)")
demo_cli = AppGroup("demo", help="演示数据 (demo data)")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="city_admin | county_admin | inspector | readonly")
@click.option("--unit", "unit_code", required=True, help="单位代码, e.g. 411000, 411002")
@click.option("--name", "display_name", default="", help="姓名")
@click.password_option(prompt="密码 (password)", confirmation_prompt="再次输入 (repeat)")
def users_create(username, role, unit_code, display_name, password):
    """Create an account (asks for the password)."""
    from .auth.services import AccountError, create_user

    try:
        user = create_user(username, password, role, unit_code, display_name)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已创建用户 {user.username}（{user.role_label}，{user.unit.name}）")


@users_cli.command("set-password")
@click.argument("username")
@click.password_option(prompt="新密码 (new password)", confirmation_prompt="再次输入 (repeat)")
def users_set_password(username, password):
    """Set a new password; the user's existing sessions end."""
    from .auth.services import AccountError, set_password

    try:
        set_password(username, password)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已更新 {username} 的密码")


@users_cli.command("end-sessions")
@click.argument("username")
def users_end_sessions(username):
    """End every login session of the user (e.g. a lost phone); audited."""
    from .auth.services import AccountError, end_all_sessions, find_user

    try:
        end_all_sessions(find_user(username))
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已结束 {username} 的全部登录会话")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username):
    """Clear the user's recent login failures (ends the login delay); audited."""
    from .auth.services import AccountError, find_user, unlock

    try:
        cleared = unlock(find_user(username))
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        fail(f"错误：{exc}")
    click.echo(f"已解除 {username} 的登录限制（清除 {cleared} 次失败记录）")


@audit_cli.command("verify")
def audit_verify():
    """Verify the hash chain; exit 1 naming the first bad row."""
    from .audit.services import verify_chain

    result = verify_chain()
    if result.ok:
        click.echo(f"audit chain OK: {result.count} rows")
        return
    fail(f"audit chain BROKEN at row {result.bad_id}: {result.message} "
         f"({result.count} rows verified before it)")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="only when the database has no accounts yet (first run)")
def demo_load(if_empty):
    """Load the demo data (idempotent) and print the demo accounts."""
    from .auth.models import User
    from .demo import load_demo, print_accounts, read_accounts

    if if_empty and db.session.scalar(db.select(User).limit(1)) is not None:
        click.echo("数据库中已有账号，跳过演示数据加载。")
        print_accounts(read_accounts(), click.echo)
        return
    accounts = load_demo()
    print_accounts(accounts, click.echo)


@demo_cli.command("accounts")
def demo_accounts():
    """Print the demo accounts created by `demo load`."""
    from .demo import print_accounts, read_accounts

    print_accounts(read_accounts(), click.echo)




def _import_command(kind: str, path: str, dry_run: bool) -> None:
    from .registry.importing import ImportRejected, analyse, apply

    with open(path, "rb") as fh:
        data = fh.read()
    name = path.rsplit("/", 1)[-1]
    if dry_run:
        preview = analyse(kind, data, name)
        db.session.rollback()
    else:
        try:
            preview = apply(kind, data, name)
            db.session.commit()
        except ImportRejected as exc:
            db.session.rollback()
            preview = exc.preview
        except Exception:
            db.session.rollback()
            raise
    for problem in preview.problems:
        where = f"第 {problem.row} 行" if problem.row else "文件"
        column = f"「{problem.column}」" if problem.column else ""
        click.echo(f"{where}{column}：{problem.message}", err=True)
    if preview.problems:
        fail(f"共 {len(preview.problems)} 处问题，未写入任何数据。")
    if preview.rows == 0:
        fail("文件中没有数据行，未写入任何数据。")
    s = preview.summary()
    verb = "检查通过（未写入）" if dry_run else "导入完成"
    click.echo(f"{verb}：{s['rows']} 行，新增 {s['created']}，更新 {s['updated']}，未变化 {s['unchanged']}")


def _export_command(kind: str, path: str) -> None:
    from sqlalchemy import select

    from .registry import exporting
    from .registry.models import Enterprise, Officer

    fmt = "csv" if path.lower().endswith(".csv") else "xlsx"
    if kind == "enterprises":
        data = exporting.enterprises(select(Enterprise), fmt)
    elif kind == "equipment":
        data = exporting.equipment(select(Enterprise), fmt)
    else:
        data = exporting.officers(select(Officer), fmt)
    with open(path, "wb") as fh:
        fh.write(data)
    click.echo(f"已导出到 {path}")


enterprises_cli = AppGroup("enterprises", help="生产企业数据库")
officers_cli = AppGroup("officers", help="执法检查人员数据库")
equipment_cli = AppGroup("equipment", help="关键生产设备（取证时）")

for _group, _kind in ((enterprises_cli, "enterprises"), (officers_cli, "officers"), (equipment_cli, "equipment")):
    def _make(kind):
        @click.argument("file", type=click.Path(exists=True, dir_okay=False))
        @click.option("--dry-run", is_flag=True, help="只检查，不写入")
        def import_cmd(file, dry_run):
            """Import FILE (.xlsx or .csv) all-or-nothing; prints every row error."""
            _import_command(kind, file, dry_run)

        @click.argument("file", type=click.Path(dir_okay=False))
        def export_cmd(file):
            """Export to FILE (.xlsx or .csv, by extension) in the import's columns."""
            _export_command(kind, file)
        return import_cmd, export_cmd

    _imp, _exp = _make(_kind)
    _group.command("import")(_imp)
    _group.command("export")(_exp)


@enterprises_cli.command("import-risk")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，不写入")
def enterprises_import_risk(file, dry_run):
    """Import risk classes (统一社会信用代码, 风险等级) of registered enterprises, all-or-nothing."""
    _import_command("risk", file, dry_run)


REGISTRY_GROUPS = (enterprises_cli, officers_cli, equipment_cli)




plans_cli = AppGroup("plans", help="抽查计划与抽取")
draw_cli = AppGroup("draw", help="抽取复核")


def _plan_by_code(code: str):
    from .plans.models import Plan

    plan = db.session.scalar(db.select(Plan).where(Plan.code == code))
    if plan is None:
        fail(f"错误：抽查计划 {code} 不存在")
    return plan


def _run_step(step, done: str) -> None:
    from .plans.services import PlanError

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
    from .plans.services import create_plan

    parts = [p.strip() for p in ratios.split(",")]
    if len(parts) != 4:
        fail("错误：--ratios 应为 4 个整数百分比，如 10,20,30,50")
    raw = {"code": code, "name": name, "year": year, "k": k, "deadline": deadline or None,
           "publication_workdays": 20, "scope": list(categories),
           **dict(zip(("ratio_low", "ratio_mid", "ratio_midhigh", "ratio_high"), parts))}
    _run_step(lambda: create_plan(raw), lambda plan: f"已创建计划 {plan.code}（草稿）")


@plans_cli.command("freeze")
@click.argument("plan_code")
def plans_freeze(plan_code):
    """Freeze the population; prints its digest and counts."""
    from .plans.services import freeze_plan

    plan = _plan_by_code(plan_code)
    _run_step(lambda: freeze_plan(plan.id), lambda p: f"名单已冻结：{p.population_count} 户 {p.class_counts}\n"
                                                      f"population_digest {p.population_digest}")


@plans_cli.command("draw")
@click.argument("plan_code")
@click.option("--entropy", default="", help="public randomness (empty: 32 random bytes from the server)")
@click.option("--reason", default="", help="required for a redraw before dispatch")
def plans_draw(plan_code, entropy, reason):
    """Draw the enterprises."""
    from .plans.services import draw_enterprises

    plan = _plan_by_code(plan_code)
    _run_step(lambda: draw_enterprises(plan.id, entropy, reason=reason),
              lambda d: f"已抽取 {len(d.selected)} 户（第 {d.version} 次）\nentropy {d.entropy}\nseed {d.seed}")


@plans_cli.command("dispatch")
@click.argument("plan_code")
def plans_dispatch(plan_code):
    """Turn the selected enterprises into tasks of their units."""
    from .plans.services import dispatch_plan

    plan = _plan_by_code(plan_code)
    _run_step(lambda: dispatch_plan(plan.id), lambda tasks: f"已派发 {len(tasks)} 项任务")


@plans_cli.command("draw-officers")
@click.argument("plan_code")
@click.option("--unit", "unit_code", default="", help="unit code; default: every unit not drawn yet")
@click.option("--entropy", default="")
def plans_draw_officers(plan_code, unit_code, entropy):
    """Draw the officers of one unit (or of every unit still to draw)."""
    from .core.models import Unit
    from .plans.services import PlanError, draw_officers_many, units_without_officer_draw

    plan = _plan_by_code(plan_code)
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

    from .plans.services import PlanError, build_bundle

    plan = _plan_by_code(plan_code)
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

    from .plans.verify import BundleMismatch, verify_bundle

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




workdays_cli = AppGroup("workdays", help="工作日")
publicity_cli = AppGroup("publicity", help="公示")
tasks_cli = AppGroup("tasks", help="抽查任务")


@workdays_cli.command("add")
@click.argument("start")
@click.argument("n", type=int)
def workdays_add(start, n):
    """Print the n-th working day after START (YYYY-MM-DD), or 待定 for an uncovered year."""
    from datetime import date

    from .publicity.services import add_workdays

    try:
        day = date.fromisoformat(start)
    except ValueError:
        fail("错误：日期格式应为 2023-09-25")
    result = add_workdays(day, n)
    if result is None:
        click.echo("待定（该年度节假日安排尚未录入，不能推算）")
        sys.exit(3)
    click.echo(result.isoformat())


@publicity_cli.command("export")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--encoding", type=click.Choice(["utf-8", "gb18030"]), default="utf-8")
def publicity_export(plan_code, output, encoding):
    """Write the publicity CSV of the plan's approved tasks."""
    from .publicity.services import export_publicity

    plan = _plan_by_code(plan_code)
    data = export_publicity(plan, "gb18030" if encoding == "gb18030" else "utf-8-sig")
    db.session.commit()
    with open(output, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {output}")


@tasks_cli.command("pdf")
@click.argument("task_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def tasks_pdf(task_code, output):
    """Write the 一企两表 PDF of the task's latest record."""
    from flask import current_app

    from .inspections.pdf import render_inspection_pdf
    from .inspections.services import latest
    from .plans.models import Task

    task = db.session.scalar(db.select(Task).where(Task.code == task_code))
    if task is None:
        fail(f"错误：抽查任务 {task_code} 不存在")
    inspection = latest(task)
    if inspection is None:
        fail(f"错误：抽查任务 {task_code} 尚未开始检查")
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
    url = f"{base}/public/records/{inspection.seal_hash[:16]}" if inspection.seal_hash else ""
    with current_app.test_request_context():
        data = render_inspection_pdf(inspection, url)
    with open(output, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {output}")




@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
def backup_command(file):
    """Back up the whole database to FILE (SQLite online backup or pg_dump)."""
    from .backup import BackupError, backup

    try:
        how = backup(db.engine, file)
    except BackupError as exc:
        fail(f"错误：{exc}")
    click.echo(f"已备份到 {file}（{how}）")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore_command(file):
    """Restore FILE into the configured, empty database."""
    from .audit.services import verify_chain
    from .backup import BackupError, restore

    try:
        how = restore(db.engine, file)
    except BackupError as exc:
        fail(f"错误：{exc}")
    db.session.remove()
    result = verify_chain()
    click.echo(f"已恢复（{how}）；审计日志 {result.count} 条，校验{'通过' if result.ok else '失败：' + result.message}")
    if not result.ok:
        sys.exit(1)


reports_cli = AppGroup("reports", help="工作总结统计表 (summary report)")
archive_cli = AppGroup("archive", help="归档 ZIP (archives with manifest)")


def _task_by_code(code: str):
    from .plans.models import Task

    task = db.session.scalar(db.select(Task).where(Task.code == code))
    if task is None:
        fail(f"错误：抽查任务 {code} 不存在")
    return task


@reports_cli.command("summary")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.xlsx or FILE.pdf")
def reports_summary(plan_code, output):
    """Write the plan's summary report (工作总结统计表), the dashboard's figures, as XLSX or PDF."""
    from flask import current_app

    from .reports.figures import summary
    from .reports.summary import to_pdf, to_xlsx
    from .core.roles import CITY_ADMIN

    if not output.lower().endswith((".xlsx", ".pdf")):
        fail("错误：输出文件须以 .xlsx 或 .pdf 结尾")
    plan = _plan_by_code(plan_code)
    s = summary(plan, _CityWide(CITY_ADMIN))
    with current_app.test_request_context():
        data = to_xlsx(s) if output.lower().endswith(".xlsx") else to_pdf(s)
    with open(output, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {output}")


class _CityWide:
    """The command line sees the whole city (as the city admin does)."""

    def __init__(self, role):
        self.role = role
        self.is_authenticated = True


@tasks_cli.command("notice")
@click.argument("task_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def tasks_notice(task_code, output):
    """Write the 检查通知书 of the task as PDF."""
    from flask import current_app

    from .reports.notices import inspection_notice_pdf

    task = _task_by_code(task_code)
    with current_app.test_request_context():
        data = inspection_notice_pdf(task)
    with open(output, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {output}")


def _write_archive(output, write):
    import os

    from flask import current_app

    tmp = output + ".part"
    try:
        with open(tmp, "wb") as fh, current_app.test_request_context():
            writer = write(fh)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    click.echo(f"已写入 {output}（{len(writer.files) + 1} 个文件，{len(writer.records)} 版记录；"
               f"解压后 sha256sum -c SHA256SUMS 校验）")


@archive_cli.command("task")
@click.argument("task_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def archive_task(task_code, output):
    """Write the task's archive (ZIP with manifest.json and SHA256SUMS)."""
    from .reports.archive import write_task_archive

    task = _task_by_code(task_code)
    _write_archive(output, lambda fh: write_task_archive(task, fh))


@archive_cli.command("plan")
@click.argument("plan_code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def archive_plan(plan_code, output):
    """Write the archive of every task of the plan, streamed entry by entry."""
    from .reports.archive import write_plan_archive

    plan = _plan_by_code(plan_code)
    _write_archive(output, lambda fh: write_plan_archive(plan, fh))


@click.command("purge")
@click.option("--days", type=int, default=None, help="retention in days (default: IMPORT_FILE_RETENTION_DAYS)")
def purge_command(days):
    """Delete rejected or unconfirmed import files older than the retention period (problem lists stay)."""
    from flask import current_app

    from .registry.importing import purge_expired_files

    days = current_app.config["IMPORT_FILE_RETENTION_DAYS"] if days is None else days
    if days < 0:
        fail("错误：--days 不能为负数")
    count = purge_expired_files(days)
    db.session.commit()
    click.echo(f"已删除 {count} 个超过 {days} 天的导入文件内容（问题清单保留）")


def register_cli(app: Flask) -> None:
    for group in (users_cli, audit_cli, demo_cli, *REGISTRY_GROUPS, plans_cli, draw_cli, workdays_cli, publicity_cli,
                  tasks_cli, backup_command, restore_command, reports_cli, archive_cli):
        app.cli.add_command(group)
    app.cli.add_command(purge_command)
