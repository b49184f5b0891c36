"""Saves under a mixed load (issue 11): 48 officers saving as in the save benchmark
(think time 2 s), plus 2 logins/s, a 12 MP photo every 5 s and one 10,000-row
enterprise import, against gunicorn with 4 workers, on each database in one run.
The floor is the same officers saving without the mix, measured just before on the
same server. Prints save p95 with and without the mix (target <= 2x), errors per
kind, and acknowledged against stored (saves and photos by their receipt keys, the
import by the enterprises it added). The slow work (password hash, photo decoding,
import parsing) must not run inside the write lock for this to hold."""
from __future__ import annotations

import io
import os
import re
import secrets
import signal
import threading
import time
import uuid

from .common import Report, databases, fresh_database, make_app, median, p95
from .save_bench import (PASSWORD, WORKERS, Client, free_port, login_all, prepare, run_load, serve,
                         stored_receipts)

SECONDS = float(os.environ.get("BENCH_MIX_SECONDS", "30"))
LOGINS_PER_S = 2.0
PHOTO_EVERY_S = 5.0
IMPORT_ROWS = 10_000


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, ctype) in files.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {ctype}\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def photo_12mp() -> bytes:
    """A 4000 x 3000 JPEG of about 3 MB (smooth noise, so it is not trivially small)."""
    from PIL import Image

    img = Image.effect_noise((500, 375), 64).convert("RGB").resize((4000, 3000))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def import_csv(url: str) -> bytes:
    """10,000 new enterprises: none shares a USCC or licence number with the registry
    the save benchmark set up (that would be refused, rightly)."""
    from datetime import date

    from sqlalchemy import create_engine, text

    from xcapp.registry.models import DEFAULT_CATEGORIES
    from xcapp.demo.synthetic import generate_enterprises

    from .registry_bench import _csv

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        taken = {v for row in conn.execute(text("SELECT uscc, licence_no FROM enterprise")) for v in row}
    engine.dispose()
    units = ["411002", "411003", "411081", "411082", "411024", "411025", "411071", "411072", "411073"]
    rows = generate_enterprises(IMPORT_ROWS + 1000, units, DEFAULT_CATEGORIES, seed=4242, today=date(2026, 11, 1))
    return _csv([r for r in rows if r["uscc"] not in taken and r["licence_no"] not in taken][:IMPORT_ROWS])


def add_accounts(url: str) -> None:
    """An account that logs in over and over, and a city admin who imports."""
    from xcapp.auth.services import create_user
    from xcapp.extensions import db

    app = make_app(url)
    with app.app_context():
        create_user("benchlogin", PASSWORD, "inspector", "411002", "登录压测")
        create_user("benchadmin", PASSWORD, "city_admin", "411000", "导入压测")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def enterprise_count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM enterprise")).scalar()
    engine.dispose()
    return n


class SideLoad:
    """Logins, photos and the import, each on its own threads, until stopped."""

    def __init__(self, port: int, photo_client: Client, photo_inspection: int, admin: Client, photo: bytes,
                 csv: bytes):
        self.port, self.photo_client, self.photo_inspection = port, photo_client, photo_inspection
        self.admin, self.photo, self.csv = admin, photo, csv
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.logins = self.login_errors = self.photos = self.photo_errors = 0
        self.photo_keys: list[str] = []
        self.photo_times: list[float] = []
        self.login_times: list[float] = []
        self.import_status = ""
        self.import_seconds = 0.0
        self.import_ok = False
        self.threads: list[threading.Thread] = []

    def start(self):
        for target in (self._logins, self._photos, self._import):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _one_login(self):
        client = Client(self.port)
        begin = time.perf_counter()
        try:
            _, page = client.request("GET", "/auth/login")
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            status, _ = client.request("POST", "/auth/login", {"username": "benchlogin", "password": PASSWORD,
                                                                "csrf_token": token})
        except Exception:
            status = 0
        with self.lock:
            self.login_times.append(time.perf_counter() - begin)
            if status == 302:
                self.logins += 1
            else:
                self.login_errors += 1

    def _logins(self):
        running = []
        while not self.stop.wait(1 / LOGINS_PER_S):
            thread = threading.Thread(target=self._one_login, daemon=True)
            thread.start()
            running.append(thread)
        for thread in running:
            thread.join(timeout=60)

    def _photos(self):
        while not self.stop.is_set():
            key = secrets.token_hex(16)
            raw = _multipart({"item_no": "1", "save_key": key}, {"photo": ("site.jpg", self.photo, "image/jpeg")})
            begin = time.perf_counter()
            try:
                status, _ = self.photo_client.request(
                    "POST", f"/inspections/{self.photo_inspection}/photos",
                    headers={"HX-Request": "true", "X-CSRFToken": self.photo_client.token}, raw=raw)
            except Exception:
                status = 0
                self.photo_client.reconnect(self.port)
            with self.lock:
                self.photo_times.append(time.perf_counter() - begin)
                if status == 200:
                    self.photos += 1
                    self.photo_keys.append(key)
                else:
                    self.photo_errors += 1
            self.stop.wait(PHOTO_EVERY_S)

    def _import(self):
        self.stop.wait(2.0)
        begin = time.perf_counter()
        try:
            raw = _multipart({"kind": "enterprises"}, {"file": ("enterprises.csv", self.csv, "text/csv")})
            status, page = self.admin.request("POST", "/registry/import",
                                              headers={"X-CSRFToken": self.admin.token}, raw=raw)
            found = re.search(r"/registry/import/(\d+)/apply", page)
            if status != 200 or not found:
                said = re.findall(r'class="[^"]*(?:error|flash)[^"]*"[^>]*>\s*([^<]{1,200})', page)
                self.import_status = f"upload answered {status} ({'; '.join(said[:3]) or page[:200]!r})"
                return
            status, _ = self.admin.request("POST", f"/registry/import/{found.group(1)}/apply",
                                           headers={"X-CSRFToken": self.admin.token})
            self.import_ok = status == 302
            self.import_status = f"apply answered {status}"
        except Exception as exc:
            self.import_status = f"failed: {exc!r}"
        finally:
            self.import_seconds = time.perf_counter() - begin


def run(report: Report) -> None:
    photo = photo_12mp()
    for kind in databases():
        with fresh_database(kind) as url:
            sessions = prepare(url)
            add_accounts(url)
            csv = import_csv(url)
            before = enterprise_count(url)
            port = free_port()
            proc = serve("wsgi:app", url, port, WORKERS)
            try:
                clients = login_all(port, sessions, False)
                photo_client, admin = Client(port), Client(port)
                admin.conn.timeout = 600     # the import: its own time, reported; not the client's limit
                photo_client.login(sessions[0][0])      # the first officer's second phone takes the photos
                admin.login("benchadmin")
                base_lat, base_acked, base_errors, base_keys = run_load(port, sessions, SECONDS, True, False,
                                                                        warmup=5.0, clients=clients)
                side = SideLoad(port, photo_client, sessions[0][1], admin, photo, csv)
                side.start()
                mix_lat, mix_acked, mix_errors, mix_keys = run_load(port, sessions, SECONDS, True, False,
                                                                    clients=clients)
                side.finish()
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
            keys = base_keys + mix_keys
            stored = stored_receipts(url, keys)
            photos_stored = stored_receipts(url, side.photo_keys)
            added = enterprise_count(url) - before
            ratio = p95(mix_lat) / p95(base_lat)
            report.add(f"item save under a mixed load [{kind}, {len(sessions)} officers, {WORKERS} gunicorn workers, "
                       f"{SECONDS:.0f} s each]: p95 {p95(mix_lat) * 1000:.1f} ms (p50 {median(mix_lat) * 1000:.1f} ms) "
                       f"with 2 logins/s + a 12 MP photo every 5 s + one {IMPORT_ROWS:,}-row import; without the mix "
                       f"p95 {p95(base_lat) * 1000:.1f} ms (p50 {median(base_lat) * 1000:.1f} ms); ratio {ratio:.1f}x "
                       f"(target <= 2x)")
            report.add(f"mixed load errors [{kind}]: saves {base_errors} + {mix_errors}, logins {side.login_errors} "
                       f"of {side.logins + side.login_errors} (p50 {median(side.login_times or [0]) * 1000:.0f} ms), "
                       f"photos {side.photo_errors} of {side.photos + side.photo_errors} "
                       f"(p50 {median(side.photo_times or [0]) * 1000:.0f} ms), import {side.import_status} "
                       f"after {side.import_seconds:.1f} s")
            total = len(keys)
            report.add(f"mixed load integrity [{kind}]: saves acknowledged {total}, stored {stored}; photos "
                       f"acknowledged {side.photos}, stored {photos_stored}; import acknowledged "
                       f"{IMPORT_ROWS if side.import_ok else 0} rows, added {added} "
                       f"({'equal' if (stored, photos_stored) == (total, side.photos) and added == (IMPORT_ROWS if side.import_ok else 0) else 'MISMATCH'})")
