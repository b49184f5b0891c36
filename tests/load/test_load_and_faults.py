"""Real gunicorn processes on loopback, bounded in time: 50 officers saving answers
(with and without think time) lose and duplicate nothing; a server killed with SIGKILL
in the middle of the load loses no acknowledged save and keeps a verifying audit chain.
Runs on the database of the suite (SQLite, or PostgreSQL when DATABASE_URL says so)."""
import http.client
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

import pytest

from bench.common import fresh_database
from bench.save_bench import CODES, Client, free_port, login_all, prepare, run_load, serve, stored_receipts

pytestmark = pytest.mark.slow
LOAD_SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "60"))


@pytest.fixture(scope="module")
def kind():
    return "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"


def audit_verify(url):
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="x" * 40)
    env.pop("XCAPP_ENV", None)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"], env=env,
                          capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__)))))


def test_fifty_officers_lose_and_duplicate_nothing(kind):
    with fresh_database(kind) as url:
        sessions = prepare(url)
        assert len(sessions) >= 40
        port = free_port()
        proc = serve("wsgi:app", url, port)
        try:
            clients = login_all(port, sessions, False)
            _lat, _acked, errors, keys = run_load(port, sessions, LOAD_SECONDS, True, False, clients=clients)
            _lat2, _acked2, errors2, keys2 = run_load(port, sessions, 5, False, False, clients=clients)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        assert errors == 0 and errors2 == 0
        assert len(keys) > LOAD_SECONDS * 10          # about 25 saves/s were offered
        assert stored_receipts(url, keys + keys2) == len(keys) + len(keys2)   # acknowledged = stored, once each
        assert audit_verify(url).returncode == 0


def test_sigkill_mid_load_loses_no_acknowledged_save(kind):
    with fresh_database(kind) as url:
        sessions = prepare(url)
        port = free_port()
        proc = serve("wsgi:app", url, port)
        clients = login_all(port, sessions, False)
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def phone(index, inspection_id):
            client = clients[index]
            while not stop.is_set():
                key = secrets.token_hex(16)
                item = 1 + index % 11
                try:
                    status, _ = client.request("POST", f"/inspections/{inspection_id}/items/{item}",
                                               {"record_present": "1", "record": CODES[item][0], "save_key": key},
                                               {"HX-Request": "true", "X-CSRFToken": client.token})
                except (OSError, http.client.HTTPException):
                    return            # the server is gone: this save was never acknowledged
                if status == 200:
                    with lock:
                        acked.append(key)

        threads = [threading.Thread(target=phone, args=(i, insp)) for i, (_u, insp) in enumerate(sessions)]
        for t in threads:
            t.start()
        time.sleep(4)
        os.killpg(proc.pid, signal.SIGKILL)            # master and workers, mid-request
        proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(acked) > 20
        # Restart: every acknowledged save is there, and the audit chain still verifies.
        port = free_port()
        proc = serve("wsgi:app", url, port)
        try:
            client = Client(port)
            client.login(sessions[0][0])
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        assert stored_receipts(url, acked) == len(acked)
        result = audit_verify(url)
        assert result.returncode == 0, result.stdout + result.stderr
