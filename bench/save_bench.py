"""Item saves under load: 50 officers, each saving one answer every 2 s on average
(random think time, about 25 saves/s), against gunicorn with several workers, for
60 s; then the saturation throughput with no think time at 1, 2 and 4 workers. The
floor is a bare endpoint updating one row, measured in the same run with the same
workers. Prints p50/p95 latency, the SQL statements of one save (counted in process,
user loader included), ratios, and acknowledged saves against stored ones (equal)."""
from __future__ import annotations

import http.client
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

from .common import Report, databases, fresh_database, make_app, median, p95

OFFICERS = 50
SECONDS = float(os.environ.get("BENCH_SAVE_SECONDS", "60"))
SATURATION_SECONDS = float(os.environ.get("BENCH_SATURATION_SECONDS", "10"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
SATURATION_WORKERS = [int(n) for n in os.environ.get("BENCH_SATURATION_WORKERS", "4,2,1").split(",")]
TODAY_SATURATION = {"sqlite": 97, "postgresql": 62}   # saves/s measured by issue 11 before its changes
PASSWORD = "bench-password-1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODES = {1: ["valid", "expired"], 2: ["unchanged", "changed_reviewed"], 3: ["exists", "not_exists"],
         4: ["marked", "not_marked"], 5: ["valid", "invalid"], 6: ["tested_archived", "not_tested"],
         7: ["established_executed", "not_established"], 8: ["yes", "no"], 9: ["conform", "nonconform"],
         10: ["none", "has_handled"], 11: ["none", "has_other"]}


def prepare(url: str) -> list[tuple[str, int]]:
    """50 officers with accounts, each on a started inspection. Returns (username, inspection id)."""
    from sqlalchemy import text

    from bench.draw_bench import load_registry
    from xcapp.auth.services import create_user
    from xcapp.core.models import Unit
    from xcapp.extensions import db
    from xcapp.inspections.lifecycle import start
    from xcapp.plans.models import Task
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers_many, freeze_plan
    from xcapp.registry.models import Officer

    app = make_app(url)
    out = []
    with app.app_context():
        load_registry(OFFICERS + 10, 0, 9, only_units=["411002"])
        unit = db.session.scalar(db.select(Unit).where(Unit.code == "411002"))
        for i in range(OFFICERS):
            user = create_user(f"bench{i:02d}", PASSWORD, "inspector", "411002", f"检查员{i}")
            db.session.add(Officer(name=f"检查员{i}", unit_id=unit.id, cert_no=f"BENCH{i:04d}",
                                   cert_expiry=__import__("datetime").date(2030, 12, 31), status="在岗",
                                   user_id=user.id))
        db.session.commit()
        plan = create_plan({"code": "BENCH-SAVE", "name": "bench", "year": 2026, "k": 2, "deadline": "2026-12-31",
                            "ratio_low": 100, "ratio_mid": 100, "ratio_midhigh": 100, "ratio_high": 100, "scope": []})
        freeze_plan(plan.id)
        draw_enterprises(plan.id, "bench")
        dispatch_plan(plan.id)
        draw_officers_many(plan.id, [unit.id] + [u.id for u in db.session.scalars(db.select(Unit))
                                                 if u.id != unit.id and u.code != "411000"], "bench")
        db.session.commit()
        taken = set()
        for i in range(OFFICERS):
            officer = db.session.scalar(db.select(Officer).where(Officer.cert_no == f"BENCH{i:04d}"))
            tasks = db.session.scalars(db.select(Task).where(Task.unit_id == unit.id)).all()
            mine = [t for t in tasks if any(o.officer_id == officer.id for o in t.active_officers)]
            task = next((t for t in mine if t.id not in taken), mine[0] if mine else None)
            if task is None:
                continue
            taken.add(task.id)
            inspection = start(task.id, officer.user)
            db.session.commit()
            out.append((f"bench{i:02d}", inspection.id))
        db.session.execute(text("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        db.session.execute(text("INSERT INTO bench_counter (id, n) VALUES " +
                                ", ".join(f"({i}, 0)" for i in range(OFFICERS))))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return out


class PeakMemory:
    """Samples the resident memory of a server's processes (master and workers)."""

    def __init__(self, pid: int):
        self.pid, self.peak_worker, self.peak_total = pid, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _pids(self) -> list[int]:
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as fh:
                return [self.pid] + [int(p) for p in fh.read().split()]
        except OSError:
            return [self.pid]

    def _run(self):
        while not self._stop.is_set():
            sizes = [self._rss_kb(p) for p in self._pids()]
            self.peak_worker = max(self.peak_worker, max(sizes[1:], default=0))
            self.peak_total = max(self.peak_total, sum(sizes))
            time.sleep(0.5)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_spec: str, url: str, port: int, workers: int = WORKERS, secret: str | None = None) -> subprocess.Popen:
    """gunicorn on loopback; servers given the same ``secret`` accept each other's cookies."""
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret or secrets.token_hex(32), XCAPP_ENV="production",
               PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", SESSION_COOKIE_SECURE="0",
               XCAPP_INSTANCE=os.environ.get("XCAPP_INSTANCE", "/tmp"), PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                             f"127.0.0.1:{port}", "--log-level", "warning", app_spec], cwd=ROOT, env=env,
                            start_new_session=True)   # its own process group: a test can SIGKILL all of it
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


class Client:
    """A phone: its own cookies and CSRF token."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.token = ""

    def reconnect(self, port: int) -> "Client":
        """The same phone (cookies, token) talking to another server of the same secret."""
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        return self

    def request(self, method, path, data=None, headers=None, raw: tuple[bytes, str] | None = None):
        """``data``: form fields (urlencoded); ``raw``: (body, content type), e.g. multipart."""
        body = urlencode(data, doseq=True) if data is not None else None
        hdrs = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if raw is not None:
            body, hdrs["Content-Type"] = raw
        hdrs.update(headers or {})
        self.conn.request(method, path, body=body, headers=hdrs)
        response = self.conn.getresponse()
        payload = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, payload.decode("utf-8", "replace")

    def login(self, username):
        _, page = self.request("GET", "/auth/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/auth/login", {"username": username, "password": PASSWORD,
                                                          "csrf_token": token})
        assert status == 302, status
        _, home = self.request("GET", "/home")
        self.token = re.search(r'"X-CSRFToken": "([^"]+)"', home).group(1)


def login_all(port: int, sessions, bare: bool) -> list:
    """One logged-in phone per officer (logging in is a deliberate slow hash: not part of
    a save), logged in four at a time."""
    from concurrent.futures import ThreadPoolExecutor

    clients = [Client(port) for _ in sessions]
    if not bare:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda pair: pair[0].login(pair[1][0]), zip(clients, sessions)))
    return clients


def run_load(port: int, sessions, seconds: float, think: bool, bare: bool, warmup: float = 0.0, clients=None):
    """Each phone saves until ``seconds`` have passed; the first ``warmup`` seconds (every
    gunicorn worker compiling its templates on its first request) are not measured."""
    latencies, acked, errors, keys = [], [0], [0], []
    lock = threading.Lock()
    begin = time.time()
    measure_from = begin + warmup
    stop = begin + warmup + seconds

    def phone(index, username, inspection_id):
        client = clients[index] if clients else Client(port)
        if not clients and not bare:
            client.login(username)
        rnd = random.Random(index)
        while True:
            if think:
                time.sleep(rnd.expovariate(1 / 2.0))
            if time.time() >= stop:
                return
            key = secrets.token_hex(16)
            start = time.perf_counter()
            try:
                if bare:
                    status, _ = client.request("POST", f"/bare/{index}")
                else:
                    item = rnd.randint(1, 11)
                    status, _ = client.request("POST", f"/inspections/{inspection_id}/items/{item}",
                                               {"record_present": "1", "record": rnd.choice(CODES[item]),
                                                "save_key": key},
                                               {"HX-Request": "true", "X-CSRFToken": client.token})
            except (OSError, http.client.HTTPException):
                status = 0
                client = Client(port)
                if not bare:
                    client.login(username)
            elapsed = time.perf_counter() - start
            with lock:
                if status == 200:
                    keys.append(key)          # every acknowledged save must be stored
                    if time.time() >= measure_from:
                        latencies.append(elapsed)
                        acked[0] += 1
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=phone, args=(i, u, insp)) for i, (u, insp) in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, acked[0], errors[0], keys


def stored_receipts(url: str, keys: list[str]) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    found = 0
    with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            params = {f"k{i}": k for i, k in enumerate(chunk)}
            found += conn.execute(text("SELECT count(*) FROM save_receipt WHERE key IN (" +
                                       ", ".join(f":k{i}" for i in range(len(chunk))) + ")"), params).scalar()
    engine.dispose()
    return found


def count_statements(url: str, username: str, inspection_id: int) -> tuple[int, int]:
    """SQL statements of one item save (not the first of its item), counted in process over
    a real request through the test client, the user loader's queries included; returns
    (statements, BEGINs). Audit chaining runs as on the server: after commit, off the request."""
    import threading as _threading

    from sqlalchemy import event, select

    from xcapp.auth.models import User
    from xcapp.extensions import db

    app = make_app(url)
    app.config["AUDIT_CHAIN"] = "background"
    with app.app_context():
        user_id = db.session.scalar(select(User).where(User.username == username)).get_id()
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"], session["_fresh"] = user_id, True
    path = f"/inspections/{inspection_id}/items/1"
    hx = {"HX-Request": "true"}
    assert client.post(path, data={"record_present": "1", "record": "valid", "save_key": secrets.token_hex(8)},
                       headers=hx).status_code == 200
    seen, thread = [], _threading.get_ident()

    def before(_conn, _cursor, statement, *_args):
        if _threading.get_ident() == thread:
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    try:
        status = client.post(path, data={"record_present": "1", "record": "expired",
                                         "save_key": secrets.token_hex(8)}, headers=hx).status_code
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert status == 200, status
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    begins = sum(1 for s in seen if s == "BEGIN")
    return len(seen) - begins, begins


def run(report: Report) -> None:
    for kind in databases():
        with fresh_database(kind) as url:
            sessions = prepare(url)
            statements, begins = count_statements(url, *sessions[-1])
            secret = secrets.token_hex(32)
            save_clients = None
            figures, saturation = {}, {}
            for workers in SATURATION_WORKERS:
                for label, spec, bare in (("bare", "bench.bare_app:app", True), ("save", "wsgi:app", False)):
                    port = free_port()
                    proc = serve(spec, url, port, workers, secret)
                    memory = PeakMemory(proc.pid) if not bare and workers == WORKERS else None
                    try:
                        if bare:
                            clients = [Client(port) for _ in sessions]
                        elif save_clients is None:
                            clients = save_clients = login_all(port, sessions, False)
                        else:
                            clients = [c.reconnect(port) for c in save_clients]
                        if workers == WORKERS:
                            lat, acked, errors, keys = run_load(port, sessions, SECONDS, True, bare, warmup=5.0,
                                                                clients=clients)
                            figures[label] = (lat, acked, errors, keys)
                        _sat_lat, sat_acked, sat_errors, sat_keys = run_load(port, sessions, SATURATION_SECONDS,
                                                                             False, bare, warmup=1.0, clients=clients)
                        saturation[(label, workers)] = (sat_acked / SATURATION_SECONDS, sat_errors, sat_keys)
                    finally:
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(timeout=30)
                    if memory is not None:
                        memory.stop()
                        figures["memory"] = (memory.peak_worker, memory.peak_total)
            keys = list(figures["save"][3]) if "save" in figures else []
            for (label, _w), (_rate, _err, sat_keys) in saturation.items():
                if label == "save":
                    keys += sat_keys
            if "save" in figures:
                lat, acked, errors, _keys = figures["save"]
                b_lat = figures["bare"][0]
                report.add(f"item save [{kind}, {len(sessions)} officers, {WORKERS} gunicorn workers, {SECONDS:.0f} s, "
                           f"think time 2 s]: p50 {median(lat) * 1000:.1f} ms, p95 {p95(lat) * 1000:.1f} ms "
                           f"({acked / SECONDS:.1f} saves/s, {errors} errors; {statements} SQL statements per save "
                           f"+ {begins} BEGIN, user loader included, target <= 8); bare one-row update p50 "
                           f"{median(b_lat) * 1000:.1f} ms, p95 {p95(b_lat) * 1000:.1f} ms; ratio p95 "
                           f"{p95(lat) / p95(b_lat):.1f}x (target p95 <= 50 ms and <= 3x)")
            for workers in sorted(SATURATION_WORKERS):
                sat, sat_errors, _k = saturation[("save", workers)]
                b_sat = saturation[("bare", workers)][0]
                report.add(f"item save saturation [{kind}, {workers} gunicorn worker{'s' if workers > 1 else ''}, "
                           f"no think time, {SATURATION_SECONDS:.0f} s]: {sat:.0f} saves/s ({sat_errors} errors); "
                           f"bare endpoint {b_sat:.0f} updates/s; ratio bare/save {b_sat / max(sat, 0.1):.1f}x; "
                           f"{sat / TODAY_SATURATION[kind]:.1f}x the {TODAY_SATURATION[kind]} saves/s before issue 11 "
                           f"(target >= 3x)")
            stored = stored_receipts(url, keys)
            report.add(f"item save integrity [{kind}]: acknowledged {len(keys)}, stored {stored} "
                       f"({'equal' if stored == len(keys) else 'MISMATCH'})")
            if "memory" in figures:
                worker_kb, total_kb = figures["memory"]
                report.add(f"server peak memory [{kind}, {WORKERS} gunicorn workers under the save load]: largest "
                           f"worker {worker_kb / 1024:.0f} MB RSS, all processes {total_kb / 1024:.0f} MB")
