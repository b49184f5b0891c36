"""The phone on a slow network (CDP: 400 kbit/s, 400 ms latency, 360 x 740, cold cache):
the checklist is usable within 3 s of navigation, a save round trip takes at most 1.5 s,
and the first load transfers at most 40 KB. The figures are printed."""
import time

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import PHONE

pytestmark = pytest.mark.e2e
KBIT = 1024 / 8


def test_checklist_on_a_slow_network(live_server, browser, task_setup):
    task, _officers, users = task_setup
    login_context = browser.new_context(viewport=PHONE)
    page = login_context.new_page()
    page.goto(live_server + "/auth/login")
    page.fill("#username", users[0].username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("您好")
    page.goto(f"{live_server}/inspections/tasks/{task.id}")
    page.get_by_role("button", name="开始检查").click()
    expect(page.locator("#progress")).to_be_visible()
    cookies = login_context.cookies()
    login_context.close()

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)   # cold cache
    context.add_cookies(cookies)
    phone = context.new_page()
    cdp = context.new_cdp_session(phone)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 400,
                                                  "downloadThroughput": 400 * KBIT, "uploadThroughput": 400 * KBIT})
    transferred = []
    cdp.on("Network.loadingFinished", lambda e: transferred.append(e["encodedDataLength"]))

    start = time.perf_counter()
    phone.goto(f"{live_server}/inspections/tasks/{task.id}", wait_until="commit")
    option = phone.locator("#item-1").get_by_text("在有效期", exact=True)
    expect(option).to_be_visible(timeout=10_000)
    phone.wait_for_function("() => window.htmx !== undefined && document.readyState !== 'loading'", timeout=10_000)
    usable = time.perf_counter() - start
    phone.wait_for_load_state("load")
    first_load = sum(transferred)

    start = time.perf_counter()
    option.click()
    expect(phone.locator("#item-1 .save-status")).to_contain_text("已保存", timeout=10_000)
    round_trip = time.perf_counter() - start
    print(f"\nslow network (400 kbit/s, 400 ms): checklist usable after {usable:.2f} s (limit 3 s), "
          f"first load {first_load / 1024:.1f} KB on the wire (limit 40 KB), save round trip {round_trip:.2f} s "
          f"(limit 1.5 s)")
    context.close()
    assert usable <= 3.0
    assert first_load <= 40 * 1024
    assert round_trip <= 1.5
