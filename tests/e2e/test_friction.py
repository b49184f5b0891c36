"""Friction found on the phone (issue 10, deliverable 7 and browser test (f)), tried on a
360 px phone in Debian's chromium: item 11's exclusive options, tappable disclosure rows,
the confirmation before sealing, jumping to what is missing, 44 px targets, the signature
placeholder, the county admin's review from the record page, no 404 for the favicon."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.web.test_inspections import fill_all, finish
from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections.models import Answer, Inspection

pytestmark = pytest.mark.e2e
NO_HSCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def login(page, base, username):
    page.goto(base + "/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("您好")


def started_page(phone, live_server, client, auth, task_setup):
    task, officers, users = task_setup
    auth.login_as(users[0])
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    inspection = db.session.scalar(select(Inspection).where(Inspection.task_id == task.id))
    db.session.commit()                            # end the test's read transaction (SQLite)
    login(phone, live_server, users[0].username)
    phone.goto(f"{live_server}/inspections/tasks/{task.id}")
    expect(phone.locator("#progress")).to_contain_text("已填")
    return task, officers, users, inspection


def stored_record(item_no):
    db.session.rollback()                          # a fresh snapshot of what the server stored
    answer = db.session.scalar(select(Answer).where(Answer.item_no == item_no))
    return answer.record if answer else None


def box_id(locator):
    return locator.get_attribute("id")


def test_f_item_11_none_after_has_saves_and_clears_the_has_boxes(live_server, phone, client, auth, task_setup):
    page = phone
    started_page(page, live_server, client, auth, task_setup)
    card = page.locator("#item-11")
    errors = []
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    altered, other = card.locator("#item-11-has_altered"), card.locator("#item-11-has_other")
    none = card.locator("#item-11-none")
    for box in (altered, other):
        with page.expect_response(lambda r: "/items/11" in r.url):
            card.locator("label.choice", has=page.locator(f"#{box_id(box)}")).click()
    expect(altered).to_be_checked()
    expect(other).to_be_checked()
    assert stored_record(11) == "has_altered,has_other"
    with page.expect_response(lambda r: "/items/11" in r.url) as info:
        card.locator("label.choice", has=page.locator("#item-11-none")).click()
    assert info.value.status == 200
    expect(card.locator(".save-status")).to_contain_text("已保存")
    expect(none).to_be_checked()
    expect(altered).not_to_be_checked()
    expect(other).not_to_be_checked()
    expect(card.locator("[role=alert]")).to_have_count(0)
    assert stored_record(11) == "none"
    # and back: a 有 box clears 无
    with page.expect_response(lambda r: "/items/11" in r.url):
        card.locator("label.choice", has=page.locator("#item-11-has_altered")).click()
    expect(none).not_to_be_checked()
    assert stored_record(11) == "has_altered"
    assert errors == []


def test_disclosure_rows_look_tappable_and_small_targets_are_44px(live_server, phone, client, auth, task_setup):
    page = phone
    started_page(page, live_server, client, auth, task_setup)
    for text in ("企业拒绝签字", "无法实施检查"):
        summary = page.locator("summary", has_text=text)
        style = summary.evaluate("""s => { const c = getComputedStyle(s), m = getComputedStyle(s, '::before');
            return {border: c.borderTopStyle, marker: m.content, height: s.getBoundingClientRect().height}; }""")
        assert style["border"] == "solid" and style["marker"] == '"▸"' and style["height"] >= 44, (text, style)
    link = page.get_by_role("link", name="对照关键生产设备表 ↓")
    box = link.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44
    link.click()
    expect(page.locator("#equipment")).to_be_in_viewport()


def test_jump_to_the_gaps(live_server, phone, client, auth, task_setup):
    page = phone
    _task, _o, _u, inspection = started_page(page, live_server, client, auth, task_setup)
    page.locator("#item-1 label.choice").first.click()
    expect(page.locator("#jump-next")).to_have_attribute("href", "#item-2")
    assert page.evaluate(NO_HSCROLL)
    assert page.locator("#jump-next").bounding_box()["height"] >= 44
    page.locator("#jump-next").click()
    expect(page.locator("#item-2")).to_be_in_viewport()
    assert page.evaluate("document.getElementById('item-2').contains(document.activeElement)")
    # each line of the "cannot submit yet" list goes to the missing part
    page.locator("#blockers a", has_text="第7项").click()
    expect(page.locator("#item-7")).to_be_in_viewport()
    page.locator("#blockers a", has_text="检查人员签名").click()
    expect(page.locator("#signatures")).to_be_in_viewport()
    assert page.evaluate("document.getElementById('signatures').contains(document.activeElement)")


def test_submit_asks_with_a_summary_before_sealing(live_server, phone, client, auth, task_setup):
    page = phone
    officers = task_setup[1]
    officers[0].name, officers[1].name = "张建国", "李红"
    db.session.commit()
    task, officers, users, inspection = started_page(page, live_server, client, auth, task_setup)
    auth.login_as(users[0])
    fill_all(client, inspection, {7: "not_established"})
    finish(client, inspection, officers, refuse=False)
    page.reload()
    page.get_by_role("button", name="提交并封存").click()
    dialog = page.locator("#submit-confirm")
    expect(dialog).to_be_visible()
    assert page.evaluate(NO_HSCROLL)
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    expect(dialog).to_contain_text("不合格")
    expect(dialog).to_contain_text("第7项")
    expect(dialog).to_contain_text(re.compile("张建国、李红|李红、张建国"))
    dialog.get_by_role("button", name="返回修改").click()
    expect(dialog).to_be_hidden()
    db.session.rollback()
    assert db.session.get(Inspection, inspection.id).state == "draft"
    page.get_by_role("button", name="提交并封存").click()
    dialog.get_by_role("button", name="确认提交并封存").click()
    expect(page.locator("#seal")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator(".sealed")).to_contain_text("张建国")
    db.session.rollback()
    assert db.session.get(Inspection, inspection.id).state == "submitted"


def test_empty_signature_boxes_say_sign_here(live_server, phone, client, auth, task_setup):
    page = phone
    started_page(page, live_server, client, auth, task_setup)
    pads = page.locator("canvas[data-signature-pad]")
    assert pads.count() == 3                                   # two officers and the enterprise
    ink = "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; " \
          "let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }"
    for i in range(3):
        expect(pads.nth(i)).to_have_attribute("data-placeholder-shown", "1")
        assert pads.nth(i).evaluate(ink) > 100                 # the grey 请在此签名 is drawn
    signer = page.locator("#signatures .signer").first
    canvas = signer.locator("canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 40)
    page.mouse.up()
    expect(canvas).to_have_attribute("data-placeholder-shown", "0")
    value = signer.locator("input[name=signature]").input_value()
    assert value.startswith("data:image/png;base64,")
    signer.get_by_role("button", name="清除").click()
    expect(canvas).to_have_attribute("data-placeholder-shown", "1")
    assert signer.locator("input[name=signature]").input_value() == ""   # the hint is never saved


def test_county_admin_approves_from_the_record_page(live_server, browser, client, auth, task_setup, make_user):
    from tests.e2e.conftest import PHONE

    task, officers, users = task_setup
    auth.login_as(users[0])
    client.post(f"/inspections/tasks/{task.id}/start")
    inspection = db.session.scalar(select(Inspection))
    fill_all(client, inspection)
    finish(client, inspection, officers)
    assert client.post(f"/inspections/{inspection.id}/submit",
                       data={"inspection_date": local_today().isoformat()}).status_code == 302
    admin = make_user("county_admin", "411002", username="review_admin")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    login(page, live_server, admin.username)
    page.goto(f"{live_server}/inspections/tasks/{task.id}")
    assert page.evaluate(NO_HSCROLL)
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_timeout(300)
    assert questions and "审核通过" in questions[0]
    db.session.rollback()
    assert db.session.get(Inspection, inspection.id).state == "submitted"      # dismissed: nothing happens
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash-success")).to_contain_text("已审核通过")
    db.session.rollback()
    assert db.session.get(Inspection, inspection.id).state == "approved"
    context.close()


def test_no_page_logs_an_error_or_a_404(live_server, phone, client, auth, task_setup):
    page = phone
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status == 404 else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))
    task, _o, _u, inspection = started_page(page, live_server, client, auth, task_setup)
    for path in ("/inspections/mine", f"/inspections/tasks/{task.id}", "/home", "/public/results"):
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
    favicon = page.request.get(live_server + "/favicon.ico")
    assert favicon.status == 200
    assert problems == []
