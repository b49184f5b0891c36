"""The UI shell on a 360 px phone: no horizontal scrolling, tap targets of at least 44 px."""
import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

NO_HSCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
SMALL_TARGETS = """
() => Array.from(document.querySelectorAll('a, button, input, select, textarea'))
  .filter(el => el.offsetParent !== null && el.type !== 'hidden')
  .map(el => { const r = el.getBoundingClientRect();
               return {tag: el.tagName, text: (el.innerText || el.name || '').trim().slice(0, 20),
                       h: r.height, w: r.width}; })
  .filter(t => t.h < 44 || (t.tag !== 'INPUT' && t.w < 44))
"""


def test_login_and_home_fit_a_phone(live_server, phone, make_user):
    make_user("county_admin", "411002", username="phone_admin")
    phone.goto(live_server + "/auth/login")
    assert phone.evaluate(NO_HSCROLL)
    assert phone.evaluate(SMALL_TARGETS) == []
    phone.fill("#username", "phone_admin")
    phone.fill("#password", PASSWORD)
    phone.click("button[type=submit]")
    expect(phone.locator("h1")).to_contain_text("您好")
    assert phone.evaluate(NO_HSCROLL)
    assert phone.evaluate(SMALL_TARGETS) == []
    phone.goto(live_server + "/admin/users")
    assert phone.evaluate(NO_HSCROLL), "the users page scrolls sideways at 360 px"


def test_htmx_is_loaded_without_csp_violations(live_server, phone, make_user):
    make_user("city_admin", username="phone_city")
    violations = []
    phone.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    phone.goto(live_server + "/auth/login")
    phone.fill("#username", "phone_city")
    phone.fill("#password", PASSWORD)
    phone.click("button[type=submit]")
    phone.goto(live_server + "/audit/")
    # The chain status is loaded by htmx (hx-trigger=load) under the strict CSP.
    expect(phone.locator("#audit-verify")).to_contain_text("防篡改链完整")
    assert phone.evaluate("typeof htmx") == "object"
    assert violations == []
