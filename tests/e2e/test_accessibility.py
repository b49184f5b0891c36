"""Accessibility: axe-core (WCAG 2.1 A and AA rules) on every screen a role can open, in the
phone viewport, with 0 critical and 0 serious violations; the checklist is checked in several
states (not started, empty draft, partly filled with a refused save, filled, sealed, returned,
approved, not inspected). axe-core is vendored for the tests only (tests/e2e/vendor).

Beyond axe: choosing an option by keyboard keeps the focus on the chosen option across the
save (ArrowDown selects only the next option), the save status is announced, and the option
tiles and 拍照取证 show a visible focus mark."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE
from tests.web.test_inspections import HX, fill_all, finish, jpeg_bytes
from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Answer, Inspection
from xcapp.plans.models import Task

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
RUN_AXE = """
async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
  });
  return result.violations
    .filter(v => v.impact === 'critical' || v.impact === 'serious')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ' :: ' + n.failureSummary.split('\\n').slice(0, 3).join(' '))}));
}
"""


class Auditor:
    """Runs axe on pages and keeps every critical/serious violation with the page it was on."""

    def __init__(self, browser, base):
        self.browser, self.base, self.found, self.pages = browser, base, [], 0

    def context(self):
        # The app's CSP (script-src 'self') would block the injected axe; the test context bypasses it.
        return self.browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                        locale="zh-CN", bypass_csp=True)

    def login(self, page, username):
        page.goto(self.base + "/auth/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_contain_text("您好")

    def check(self, page, path=None, label=None):
        if path is not None:
            response = page.goto(self.base + path)
            if response is None or response.status != 200:
                self.found.append(f"[{label or path}] HTTP {response and response.status}: the page did not open")
                return
        page.wait_for_load_state("load")
        page.add_script_tag(path=str(AXE))
        self.pages += 1
        for v in page.evaluate(RUN_AXE):
            self.found.append(f"[{label or path or page.url}] {v['impact']} {v['id']}: {v['help']}\n      "
                              + "\n      ".join(v["nodes"]))

    def assert_clean(self):
        report = "\n".join(self.found)
        print(f"\naxe-core WCAG 2.1 AA: {self.pages} page states checked, "
              f"{len(self.found)} critical/serious violations\n{report}")
        assert not self.found, f"{len(self.found)} critical/serious axe violations:\n{report}"


@pytest.fixture
def world(app, client, auth, make_enterprise, make_user, request):
    """Two tasks of 魏都区 (A filled, sealed and approved as 不合格 -> a follow-up case; B not
    inspected, sealed, returned -> revision 2), a third task C never started."""
    make_enterprise(unit="411002", name="许昌第二电缆有限公司")
    make_enterprise(unit="411002", name="许昌第三电缆有限公司")
    task_a, officers, users = request.getfixturevalue("task_setup")
    tasks = db.session.scalars(select(Task).order_by(Task.id)).all()
    task_b, task_c = [t for t in tasks if t.id != task_a.id][:2]
    admin = make_user("county_admin", "411002", username="a11y_county")
    city = make_user("city_admin", "411000", username="a11y_city")
    readonly = make_user("readonly", "411000", username="a11y_readonly")
    return dict(task_a=task_a, task_b=task_b, task_c=task_c, officers=officers, users=users, admin=admin,
                city=city, readonly=readonly)


def _start(client, auth, user, task):
    auth.login_as(user)
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task.id)
                             .order_by(Inspection.revision.desc()))


def test_every_screen_has_no_serious_axe_violation(live_server, browser, client, auth, world):
    ax = Auditor(browser, live_server)
    w = world
    task_a, task_b, task_c = w["task_a"], w["task_b"], w["task_c"]

    # --- public pages, not logged in
    ctx = ax.context()
    page = ctx.new_page()
    ax.check(page, "/auth/login")
    ax.check(page, "/public/")
    ax.check(page, f"/public/plans/{task_a.plan_id}")
    ax.check(page, "/public/results")
    page.goto(live_server + "/auth/login")
    page.fill("#username", "nobody")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    ax.check(page, label="login refused")

    # --- the inspector: task list, a task not started, an empty draft, partly filled, a refused save
    ictx = ax.context()
    ipage = ictx.new_page()
    ax.login(ipage, w["users"][0].username)
    ax.check(ipage, "/home", "inspector home")
    ax.check(ipage, "/inspections/mine")
    ax.check(ipage, f"/inspections/tasks/{task_c.id}", "checklist not started")
    inspection_a = _start(client, auth, w["users"][0], task_a)
    ax.check(ipage, f"/inspections/tasks/{task_a.id}", "checklist empty draft")
    ipage.locator("#item-1 label.choice").first.click()
    expect(ipage.locator("#item-1 .save-status")).to_contain_text("已保存")
    ipage.locator("#item-11 label.choice").nth(1).click()
    expect(ipage.locator("#item-11 .save-status")).to_contain_text("已保存")
    ipage.locator("#enterprise button", has_text="保存企业签字").click()   # refused: no name, no signature
    ipage.wait_for_timeout(1500)                                         # its refusal message shows
    ax.check(ipage, label="checklist partly filled, a refused save")
    ax.check(ipage, f"/inspections/{inspection_a.id}/items/2", "item page")
    ax.check(ipage, f"/inspections/{inspection_a.id}/equipment", "equipment page")

    # A filled record with a photo and a 不符合 (client-side setup is faster than taps)
    auth.login_as(w["users"][0])
    fill_all(client, inspection_a, {7: "not_established"})
    client.post(f"/inspections/{inspection_a.id}/photos", headers=HX, content_type="multipart/form-data",
                data={"item_no": "7", "photo": (__import__("io").BytesIO(jpeg_bytes((800, 600))), "a.jpg")})
    finish(client, inspection_a, w["officers"], refuse=False)
    ax.check(ipage, f"/inspections/tasks/{task_a.id}", "checklist filled, ready to submit")
    assert client.post(f"/inspections/{inspection_a.id}/submit",
                       data={"inspection_date": local_today().isoformat()}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Inspection, inspection_a.id).state == "submitted"
    ax.check(ipage, f"/inspections/tasks/{task_a.id}", "checklist sealed")

    # B: not inspected, sealed, then returned -> revision 2 draft
    inspection_b = _start(client, auth, w["users"][0], task_b)
    ax.check(ipage, f"/inspections/tasks/{task_b.id}", "checklist B draft")
    ipage.locator("#not-inspected summary").click()
    ax.check(ipage, label="not-inspected form open")
    assert client.post(f"/inspections/{inspection_b.id}/not-inspected", headers=HX,
                       data={"reason": rules.REASON_SUSPENDED, "remark": "停产半年", "inspection_date": local_today().isoformat()}
                       ).status_code == 200
    ax.check(ipage, f"/inspections/tasks/{task_b.id}", "checklist not inspected")

    # --- the county admin
    actx = ax.context()
    apage = actx.new_page()
    ax.login(apage, w["admin"].username)
    ax.check(apage, "/inspections/review")
    ax.check(apage, f"/inspections/tasks/{task_a.id}", "record page for the admin (submitted)")
    auth.login_as(w["admin"])
    assert client.post(f"/inspections/{inspection_a.id}/approve").status_code == 302
    assert client.post(f"/inspections/{inspection_b.id}/return", data={"reason": "请补充停产证明"}).status_code == 302
    ax.check(apage, f"/inspections/tasks/{task_a.id}", "record approved")
    ax.check(ipage, f"/inspections/tasks/{task_b.id}", "checklist returned, revision 2")
    ax.check(apage, f"/inspections/tasks/{task_b.id}?revision=1", "returned revision 1")
    enterprise_id = task_a.enterprise_id
    officer_id = w["officers"][0].id
    for path in ("/home", "/oversight/", "/oversight/list", "/oversight/cases", "/plans/",
                 f"/plans/{task_a.plan_id}", f"/plans/{task_a.plan_id}/tasks", f"/plans/tasks/{task_a.id}",
                 f"/plans/tasks/{task_c.id}", "/registry/enterprises", f"/registry/enterprises/{enterprise_id}",
                 "/registry/enterprises/new", f"/registry/enterprises/{enterprise_id}/edit", "/registry/officers",
                 f"/registry/officers/{officer_id}", "/registry/officers/new", f"/registry/officers/{officer_id}/edit",
                 "/registry/import", "/registry/categories", "/admin/users", "/publicity/workdays"):
        ax.check(apage, path, f"county admin {path}")
    case_link = apage.goto(live_server + "/oversight/cases") and apage.locator("a[href*='/oversight/cases/']")
    if case_link.count():
        ax.check(apage, case_link.first.get_attribute("href"), "follow-up case")
    apage.goto(live_server + "/registry/enterprises/new")
    apage.locator("form button[type=submit]").first.click()            # a refused form shows its errors
    ax.check(apage, label="enterprise form with errors")

    # --- the city admin and the read-only supervisor
    cctx = ax.context()
    cpage = cctx.new_page()
    ax.login(cpage, w["city"].username)
    for path in ("/home", "/plans/new", f"/plans/{task_a.plan_id}", "/audit/", "/admin/units", "/admin/users",
                 "/oversight/", "/inspections/review"):
        ax.check(cpage, path, f"city admin {path}")
    rctx = ax.context()
    rpage = rctx.new_page()
    ax.login(rpage, w["readonly"].username)
    for path in ("/home", "/oversight/", f"/inspections/tasks/{task_a.id}"):
        ax.check(rpage, path, f"readonly {path}")

    # --- public record of the sealed inspection
    db.session.expire_all()
    seal = db.session.get(Inspection, inspection_a.id).seal_hash
    ax.check(page, f"/public/records/{seal[:16]}", "public record")
    for c in (ctx, ictx, actx, cctx, rctx):
        c.close()
    ax.assert_clean()


def _checklist(browser, base, task, user, client, auth):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(base + "/auth/login")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("您好")
    _start(client, auth, user, task)
    page.goto(f"{base}/inspections/tasks/{task.id}")
    return context, page


def test_keyboard_choice_keeps_focus_on_the_chosen_option(live_server, browser, client, auth, task_setup):
    task, _officers, users = task_setup
    context, page = _checklist(browser, live_server, task, users[0], client, auth)
    first = page.locator("#item-1 input[name=record]").first
    first.focus()
    saved = lambda r: "/items/1" in r.url and r.request.method == "POST"  # noqa: E731
    with page.expect_response(saved):
        page.keyboard.press("Space")
    expect(page.locator("#item-1 .save-status")).to_contain_text("已保存")
    expect(page.locator("#item-1 input[name=record]").first).to_be_focused()
    with page.expect_response(saved):
        page.keyboard.press("ArrowDown")                  # selects the next option only
    expect(page.locator("#item-1 .save-status")).to_contain_text("已保存")
    second = page.locator("#item-1 input[name=record]").nth(1)
    expect(second).to_be_checked()
    expect(second).to_be_focused()
    page.wait_for_timeout(600)                            # nothing else moves after the swap
    expect(second).to_be_focused()
    # While a save is in flight the form is aria-busy, nothing is disabled and the focus stays.
    held = []
    page.route("**/inspections/*/items/1", lambda route: held.append(route))
    page.keyboard.press("ArrowUp")
    expect(page.locator("#answer-1")).to_have_attribute("aria-busy", "true")
    assert page.locator("#item-1 fieldset[disabled], #item-1 input[disabled]").count() == 0
    expect(first).to_be_focused()
    with page.expect_response(saved):
        for route in held:
            route.continue_()
    page.unroute("**/inspections/*/items/1")
    expect(page.locator("#answer-1")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#item-1 input[name=record]").first).to_be_focused()
    expect(page.locator("#item-1 input[name=record]").first).to_be_checked()
    db.session.rollback()
    stored = db.session.scalar(select(Answer).where(Answer.item_no == 1))
    assert stored.record == page.locator("#item-1 input[name=record]").first.get_attribute("value")
    # The status is announced; the fieldset is never disabled (that threw focus to <body>).
    assert page.locator("#item-1 .save-status[role=status]").count() == 1
    assert page.locator("#item-1 fieldset[disabled]").count() == 0
    context.close()


FOCUS_MARK = """
el => { const s = getComputedStyle(el);
        return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor,
                shadow: s.boxShadow}; }
"""


def _contrast(rgb_a, rgb_b):
    def lum(rgb):
        out = []
        for c in rgb:
            c = c / 255
            out.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * out[0] + 0.7152 * out[1] + 0.0722 * out[2]
    hi, lo = sorted((lum(rgb_a), lum(rgb_b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css):
    return tuple(int(x) for x in re.findall(r"\d+", css)[:3])


def test_visible_focus_on_option_tiles_and_photo_button(live_server, browser, client, auth, task_setup):
    task, _officers, users = task_setup
    context, page = _checklist(browser, live_server, task, users[0], client, auth)
    page.locator("#item-1 input[name=record]").first.focus()
    page.keyboard.press("Tab")                             # keyboard modality for :focus-visible
    page.keyboard.press("Shift+Tab")
    tile = page.locator("#item-1 label.choice").first
    mark = tile.evaluate(FOCUS_MARK)
    assert mark["style"] != "none" and mark["width"] >= 2, mark
    assert _contrast(_rgb(mark["color"]), (255, 255, 255)) >= 3, mark
    photo_input = page.locator("#photo-form-1 input[type=file]")
    photo_input.focus()
    label = page.locator("#photo-form-1 label.photo-btn")
    mark = label.evaluate(FOCUS_MARK)
    assert mark["style"] != "none" and mark["width"] >= 2, mark
    assert _contrast(_rgb(mark["color"]), (255, 255, 255)) >= 3, mark
    # Legends, equipment labels and small buttons at 16 px.
    sizes = page.evaluate("""() => ({
        legend: getComputedStyle(document.querySelector('#item-1 legend')).fontSize,
        equip: getComputedStyle(document.querySelector('#equipment .equip-row label')).fontSize,
        small: getComputedStyle(document.querySelector('.btn-small')).fontSize })""")
    assert sizes == {"legend": "16px", "equip": "16px", "small": "16px"}, sizes
    context.close()
