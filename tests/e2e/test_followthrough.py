"""Issue 12 in the browser: a 停产 record, its later inspection dispatched from the case,
the later record approved, and the original task counted as done on the dashboard."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.test_inspector_phone import login
from tests.web.test_followthrough import _approved, _case, _tasks, plan  # noqa: F401  (fixture)
from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections.models import Inspection
from xcapp.plans.models import Task

pytestmark = pytest.mark.e2e


def test_suspended_then_later_inspection_counts_the_original_as_done(live_server, browser, plan, make_user):  # noqa: F811
    from xcapp.inspections.lifecycle import compute_seal

    admin = make_user("county_admin", "411002", username="later_admin")
    original = _tasks(plan)[0]
    _approved(original, admin, conclusion="", reason="suspended")
    case = _case(original)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    login(page, live_server, admin.username)
    page.goto(f"{live_server}/oversight/?plan={plan.id}")
    page.goto(f"{live_server}/oversight/cases/{case.id}")
    expect(page.get_by_role("heading", name="派发后续检查任务（同一企业，同一检查表）")).to_be_visible()
    page.get_by_role("button", name="派发后续检查").click()
    expect(page.locator(".flash-success")).to_contain_text("已派发后续检查任务")
    db.session.rollback()
    later = db.session.scalar(select(Task).where(Task.kind == "later"))
    assert later.origin_task_id == original.id and len(later.active_officers) == 2
    # The officers inspect (their phone work is covered elsewhere) and submit a sealed record.
    inspection = Inspection(task_id=later.id, revision=1, state="submitted", conclusion="pass",
                            inspection_date=local_today())
    db.session.add(inspection)
    db.session.flush()
    inspection.seal_hash = compute_seal(inspection)
    later.state = "submitted"
    db.session.commit()
    page.goto(f"{live_server}/inspections/tasks/{later.id}")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash-success")).to_contain_text("已审核通过")
    page.goto(f"{live_server}/oversight/?plan={plan.id}")
    total = page.locator("tr.total")
    expect(total).to_contain_text("后续检查已完成 1")
    page.goto(f"{live_server}/oversight/list?plan={plan.id}&metric=later_done")
    expect(page.locator("main")).to_contain_text(original.code)
    page.goto(f"{live_server}/oversight/list?plan={plan.id}&metric=inspected")
    expect(page.locator("main")).to_contain_text(original.code)
    page.goto(f"{live_server}/oversight/list?plan={plan.id}&metric=later")
    expect(page.locator("main")).not_to_contain_text(original.code)
    context.close()
