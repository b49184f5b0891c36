"""The phone on a slow network (issue 10), in Debian's chromium on the demo data (SQLite):

- a 4000x3000 camera JPEG at 400 kbit/s, 400 ms: bytes that reach the server and the time
  to 已保存, shrunk on the phone (today) against the full-size upload of before (floor);
- the checklist opened without network from the service worker's cache;
- after reconnecting, a queue of 12 answers, 2 photos and 3 signatures synced;
- the first load of the checklist (cold cache, bytes on the wire until the load event).

The network is cut with the TCP relay of the browser tests (tests/e2e/test_offline.py).
Run: python -m bench phone
"""
from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time
from pathlib import Path

from .common import Report, fresh_database, make_app

KBIT = 1024 / 8
SLOW = {"offline": False, "latency": 400, "downloadThroughput": 400 * KBIT, "uploadThroughput": 400 * KBIT}
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 360, "height": 740}
PASSWORD = "bench-password-1"


def camera_jpeg(path: Path, size=(4000, 3000)) -> Path:
    """A camera-like 12 MP JPEG (about 3 MB): smooth random shapes plus sensor-like fine
    noise, so that it neither compresses away nor is pure noise."""
    import os

    from PIL import Image

    def octave(div):
        w, h = size[0] // div, size[1] // div
        return Image.frombytes("L", (w, h), os.urandom(w * h)).resize(size, Image.BICUBIC)

    shapes = Image.merge("RGB", [octave(64), octave(48), octave(80)])
    grain = Image.frombytes("L", (size[0] // 2, size[1] // 2), os.urandom(size[0] * size[1] // 4)).resize(size)
    Image.blend(shapes, Image.merge("RGB", [grain, grain, grain]), 0.12).save(path, "JPEG", quality=90)
    return path


def _data(app):
    from sqlalchemy import select

    from xcapp.auth.services import set_password
    from xcapp.demo import load_demo
    from xcapp.extensions import db
    from xcapp.inspections.models import Inspection
    from xcapp.inspections.services import latest
    from xcapp.inspections.lifecycle import start
    from xcapp.plans.models import Task

    with app.app_context():
        load_demo()
        db.session.commit()
        for task in db.session.scalars(select(Task).order_by(Task.id)):
            users = [o.officer.user for o in task.active_officers if o.officer.user]
            inspection = latest(task)
            if len(users) >= 1 and (inspection is None or inspection.state == "draft") and len(task.active_officers) >= 2:
                if inspection is None:
                    inspection = start(task.id, users[0])
                set_password(users[0].username, PASSWORD)
                db.session.commit()
                return task.id, users[0].username, db.session.get(Inspection, inspection.id).id
    raise RuntimeError("no open demo task with an officer account")


def run(report: Report) -> None:
    from playwright.sync_api import expect, sync_playwright
    from werkzeug.serving import make_server

    from tests.e2e.test_offline import Counter, Relay

    with fresh_database("sqlite") as url:
        app = make_app(url)
        task_id, username, inspection_id = _data(app)
        counter = Counter(app.wsgi_app)
        app.wsgi_app = counter
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        relay = Relay(server.server_port)
        relay.start()
        base = f"http://127.0.0.1:{relay.port}"
        checklist = f"{base}/inspections/tasks/{task_id}"
        tmp = Path(tempfile.mkdtemp(prefix="xcapp-phone-bench-"))
        photo = camera_jpeg(tmp / "camera.jpg")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                _first_load(report, browser, base, checklist, username)
                _photo(report, browser, base, checklist, username, photo, counter, inspection_id)
                _offline_open(report, pw, base, checklist, username, relay, tmp)
                _queue_sync(report, browser, base, checklist, username, relay, photo, counter)
                browser.close()
        finally:
            relay.stop()
            server.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)


def _login(page, base, username):
    page.goto(base + "/auth/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/auth/login" not in u)


def _ready(page):
    page.wait_for_selector("body[data-offline=ready]", state="attached", timeout=30_000)


def _throttle(context, page, conditions):
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", conditions)
    return cdp


def _posted(counter, since, path_part):
    return sum(r[2] for r in counter.requests[since:] if r[0] == "POST" and path_part in r[1])


def _photo(report, browser, base, checklist, username, photo, counter, inspection_id):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, service_workers="block")
    page = context.new_page()
    _login(page, base, username)
    page.goto(checklist)
    _ready(page)
    _throttle(context, page, SLOW)
    # Before: the full-size file posted as the photo form did (multipart, one request).
    since = len(counter.requests)
    page.evaluate("""() => { const i = document.createElement("input"); i.type = "file"; i.id = "bench-file";
                             document.body.appendChild(i); }""")
    page.set_input_files("#bench-file", str(photo))
    start = time.perf_counter()
    status = page.evaluate("""async (url) => {
        const fd = new FormData();
        fd.append("item_no", "5");
        fd.append("photo", document.getElementById("bench-file").files[0]);
        const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"];
        const r = await fetch(url, {method: "POST", body: fd, headers: {"HX-Request": "true", "X-CSRFToken": token}});
        return r.status;
    }""", f"/inspections/{inspection_id}/photos")
    full_time = time.perf_counter() - start
    full_bytes = _posted(counter, since, "/photos")
    # Now: shrunk on the phone, queued, sent with a progress bar.
    before = page.locator("#photos-6 a img").count()
    since = len(counter.requests)
    start = time.perf_counter()
    page.locator("#photo-form-6 input[type=file]").set_input_files(str(photo))
    page.wait_for_function("(n) => document.querySelectorAll('#photos-6 a img').length > n", arg=before,
                           timeout=120_000)
    shrunk_time = time.perf_counter() - start
    shrunk_bytes = _posted(counter, since, "/photos")
    report.add(f"photo 4000x3000 ({photo.stat().st_size / 1024:.0f} KB) at 400 kbit/s, 400 ms: shrunk on the phone "
               f"{shrunk_bytes / 1024:.0f} KB sent, 已保存 after {shrunk_time:.1f} s (targets <= 400 KB, <= 10 s); "
               f"before (full size, status {status}): {full_bytes / 1024:.0f} KB, {full_time:.1f} s; "
               f"ratio bytes {full_bytes / max(shrunk_bytes, 1):.1f}x, time {full_time / max(shrunk_time, 0.001):.1f}x")
    context.close()


def _first_load(report, browser, base, checklist, username):
    login = browser.new_context(viewport=PHONE)
    page = login.new_page()
    _login(page, base, username)
    cookies = login.cookies()
    login.close()
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_cookies(cookies)
    page = context.new_page()
    cdp = _throttle(context, page, SLOW)
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes = []
    cdp.on("Network.loadingFinished", lambda e: sizes.append(e["encodedDataLength"]))
    start = time.perf_counter()
    page.goto(checklist, wait_until="load")
    loaded = time.perf_counter() - start
    first = sum(sizes)
    _ready(page)
    report.add(f"checklist first load at 400 kbit/s, 400 ms (cold cache): {first / 1024:.1f} KB on the wire until the "
               f"load event in {loaded:.2f} s (target <= 40 KB); the offline bundle and the service worker's cache "
               f"follow after it")
    context.close()


def _offline_open(report, pw, base, checklist, username, relay, tmp):
    folder = tmp / "profile"
    context = pw.chromium.launch_persistent_context(str(folder), executable_path=CHROMIUM, args=ARGS,
                                                    viewport=PHONE, is_mobile=True, has_touch=True,
                                                    service_workers="allow")
    page = context.pages[0] if context.pages else context.new_page()
    _login(page, base, username)
    page.goto(base + "/inspections/mine")
    path = checklist[len(base):]
    for _ in range(150):
        if page.evaluate("(p) => caches.match(location.origin + p).then(r => !!r)", path):
            break
        page.wait_for_timeout(200)
    online = []
    for _ in range(5):
        start = time.perf_counter()
        page.goto(checklist)
        page.wait_for_selector("#progress")
        online.append(time.perf_counter() - start)
    relay.stop()
    offline = []
    for _ in range(5):
        start = time.perf_counter()
        page.goto(checklist)
        page.wait_for_selector("#progress")
        offline.append(time.perf_counter() - start)
    relay.start()
    offline.sort()
    online.sort()
    report.add(f"checklist opened without network from the service worker's cache: median {offline[2] * 1000:.0f} ms "
               f"(target <= 1 s); floor = the same page online on loopback {online[2] * 1000:.0f} ms; "
               f"ratio {offline[2] / online[2]:.1f}x")
    context.close()


def _queue_sync(report, browser, base, checklist, username, relay, photo, counter):
    from tests.e2e.test_inspector_phone import draw, option_label
    from xcapp.inspections import rules
    from xcapp.demo.inspections import PASSING

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, service_workers="block")
    page = context.new_page()
    page.set_default_timeout(30_000)
    _login(page, base, username)
    page.goto(checklist)
    _ready(page)
    relay.stop()
    for no, code in PASSING.items():
        page.locator(f"#item-{no} label.choice").filter(has_text=option_label(no, code)).first.click()
    item12 = page.locator("#item-12").get_by_text(rules.NO_EXTRA_ITEMS_LABEL)
    if item12.count():
        item12.click()
    for no in (3, 7):
        page.locator(f"#photo-form-{no} input[type=file]").set_input_files(str(photo))
        page.wait_for_selector(f"#item-{no} .pending-photo")
    for i in range(2):
        signer = page.locator("#signatures .signer").nth(i)
        signer.locator("input[name=certificate_shown]").check()
        draw(page, signer.locator("canvas"))
        signer.get_by_role("button", name="保存签名").click()
    ent = page.locator("#enterprise")
    ent.locator("input[name=representative]").fill("王喆")
    draw(page, ent.locator("canvas"))
    ent.get_by_role("button", name="保存企业签字").click()
    page.wait_for_timeout(1000)
    waiting = int(page.locator("#sync-bar").inner_text().split(" ")[0])
    _throttle(context, page, SLOW)
    relay.start()
    since = len(counter.requests)
    start = time.perf_counter()
    page.evaluate("window.xcappSync.sync()")
    page.wait_for_function("() => /^0 项待同步/.test(document.getElementById('sync-bar').textContent)",
                           timeout=120_000)
    took = time.perf_counter() - start
    sent = sum(r[2] for r in counter.requests[since:] if r[0] == "POST")
    posts = sum(1 for r in counter.requests[since:] if r[0] == "POST")
    floor = posts * 0.4 + sent / (400 * KBIT)
    report.add(f"sync after reconnecting at 400 kbit/s, 400 ms: {waiting} queued changes (12 answers, 2 photos, "
               f"3 signatures) in {posts} requests, {sent / 1024:.0f} KB, synced in {took:.1f} s (target <= 15 s); "
               f"floor = {posts} x 400 ms latency + {sent / 1024:.0f} KB at 400 kbit/s = {floor:.1f} s; "
               f"ratio {took / floor:.1f}x")
    context.close()


def main() -> None:   # python -m bench phone
    report = Report("phone")
    run(report)


if __name__ == "__main__":
    main()
