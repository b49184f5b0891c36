"""The officer's phone (360 x 740, Debian chromium): fill the 一企两表, sign, refuse, submit;
a 不符合 gives 不合格; an answer made without network is kept and sent when it returns."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.web.test_inspections import PASSING
from xcapp.inspections import rules

pytestmark = pytest.mark.e2e


def login(page, base, username):
    page.goto(base + "/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("您好")


def open_task(page, base, task):
    page.goto(base + "/inspections/mine")
    page.get_by_role("link", name=task.enterprise.name).click()
    expect(page.locator("h1")).to_contain_text(task.enterprise.name)
    if page.get_by_role("button", name="开始检查").count():
        page.get_by_role("button", name="开始检查").click()
    expect(page.locator("#progress")).to_contain_text("已填")
    ready(page)


def ready(page):
    """The offline code is loaded (it comes right after the page's load event)."""
    expect(page.locator("body[data-offline=ready]")).to_have_count(1, timeout=15_000)


def option_label(item_no, code):
    item = rules.ITEMS[item_no]
    option = next(o for o in item.options if o.code == code)
    return f"有（{option.label}）" if option.parent else option.label


def answer(page, item_no, code):
    card = page.locator(f"#item-{item_no}")
    card.locator("label.choice").filter(has=page.locator("span", has_text=re.compile(
        "^" + re.escape(option_label(item_no, code)) + "$"))).first.click()
    expect(page.locator(f"#item-{item_no} .save-status")).to_contain_text("已保存")


def answer_all(page, override=None):
    for no, code in {**PASSING, **(override or {})}.items():
        answer(page, no, code)
    page.locator("#item-12").get_by_text(rules.NO_EXTRA_ITEMS_LABEL).click()
    expect(page.locator("#progress")).to_contain_text("12/12")


def confirm_equipment(page):
    rows = page.locator("#equipment form.equip-row")
    for i in range(rows.count()):
        row = page.locator("#equipment form.equip-row").nth(i)
        row.locator("input[name=onsite_qty]").fill("2")
        row.locator("input[name=onsite_qty]").blur()
        expect(page.locator("#equipment form.equip-row").nth(i).locator("input[name=onsite_qty]")).to_have_value("2")
        page.locator("#equipment form.equip-row").nth(i).locator("select[name=status]").select_option("same")
        expect(page.locator("#equipment form.equip-row").nth(i).locator("select[name=status]")).to_have_value("same")
    page.get_by_role("button", name="确认设备表").click()
    expect(page.locator("#equipment")).to_contain_text("已确认")


def draw(page, canvas):
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 20, box["y"] + box["height"] / 2 + (15 if step % 2 else -15))
    page.mouse.up()


def sign_both(page):
    for i in range(2):
        signer = page.locator("#signatures .signer").nth(i)
        signer.locator("input[name=certificate_shown]").check()
        draw(page, signer.locator("canvas"))
        signer.get_by_role("button", name="保存签名").click()
        expect(page.locator("#signatures .badge-ok")).to_have_count(i + 1)


def submit(page):
    page.get_by_role("button", name="提交并封存", exact=True).click()
    confirm = page.get_by_role("button", name="确认提交并封存")
    if confirm.count():
        confirm.click()


def test_a_full_inspection_with_refusal(live_server, phone, task_setup):
    task, officers, users = task_setup
    page = phone
    login(page, live_server, users[0].username)
    open_task(page, live_server, task)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    answer_all(page)
    confirm_equipment(page)
    sign_both(page)
    page.locator("#enterprise summary", has_text="企业拒绝签字").click()
    page.locator("#enterprise textarea[name=reason]").fill("法定代表人外出，现场负责人拒绝签字")
    for box in page.locator("#enterprise input[name=attest]").all():
        box.check()
    page.get_by_role("button", name="记录拒绝签字").click()
    expect(page.locator("#enterprise")).to_contain_text("企业拒绝签字（")
    expect(page.locator("#submit-box .blockers")).to_have_count(0)
    submit(page)
    expect(page.locator("#seal")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator(".sealed")).to_contain_text("合格")


def test_b_one_nonconformity_gives_fail_and_summary(live_server, phone, task_setup):
    task, _officers, users = task_setup
    page = phone
    login(page, live_server, users[1].username)
    open_task(page, live_server, task)
    answer_all(page, {7: "not_established"})
    remark = page.locator("#item-7 textarea[name=remark]")
    remark.fill("未建立原材料进货台帐")
    expect(page.locator("#summary textarea")).to_have_value(re.compile("第7项.*未建立.*未建立原材料进货台帐"),
                                                             timeout=8000)
    expect(page.locator("#summary")).to_contain_text("☑不合格")
    expect(page.locator("#progress")).to_contain_text("不合格")


def test_c_offline_answer_is_saved_when_network_returns(live_server, phone, task_setup):
    task, _officers, users = task_setup
    page = phone
    login(page, live_server, users[0].username)
    open_task(page, live_server, task)
    page.context.set_offline(True)
    page.locator("#item-3").get_by_text("不存在", exact=True).click()
    expect(page.locator("#item-3")).to_have_class(re.compile("unsaved"))
    expect(page.locator("#item-3 .unsaved-note")).to_be_visible()
    page.context.set_offline(False)
    expect(page.locator("#item-3 .save-status")).to_contain_text("已保存", timeout=15000)
    expect(page.locator("#item-3")).not_to_have_class(re.compile("unsaved"))
    page.reload()
    expect(page.locator("#item-3 input[value=not_exists]")).to_be_checked()


def test_expired_login_keeps_the_answer_and_returns_to_the_item(live_server, phone, task_setup):
    task, _officers, users = task_setup
    page = phone
    login(page, live_server, users[0].username)
    open_task(page, live_server, task)
    page.context.clear_cookies()                       # the login expires while the page is open
    page.locator("#item-8").get_by_text("否", exact=True).click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator(".flash")).to_contain_text("登录已过期")
    page.fill("#username", users[0].username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/inspections/tasks/{task.id}"))
    expect(page.locator("#item-8 .save-status")).to_contain_text("已保存", timeout=15000)
    expect(page.locator("#item-8 input[value=no]")).to_be_checked()
    page.reload()
    expect(page.locator("#item-8 input[value=no]")).to_be_checked()
