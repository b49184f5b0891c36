"""Registry benchmarks: import of 10,000 enterprise rows (target <= 10 s) and the
enterprise list (search, filter, page) over 20,000 enterprises."""
from __future__ import annotations

import csv
import io
from datetime import date

from .common import Report, databases, fresh_database, make_app, median, p95, timed

IMPORT_ROWS = 10_000
LIST_ROWS = 20_000


def _csv(rows) -> bytes:
    from xcapp.registry.fields import ENTERPRISE_FIELDS

    headers = [s.header for s in ENTERPRISE_FIELDS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    for r in rows:
        writer.writerow([r["name"], r["uscc"], r["address"], r["production_address"], r["legal_rep"], r["contact"],
                         r["phone"], r["licence_no"], r["issue_date"].isoformat(), r["expiry_date"].isoformat(),
                         r["category"], r["product_scope"], r["unit"], r["risk"], r["production_state"],
                         r["licence_state"]])
    return buf.getvalue().encode("utf-8-sig")


def _rows(n: int, seed: int):
    from xcapp.registry.models import DEFAULT_CATEGORIES
    from xcapp.registry.synthetic import generate_enterprises

    units = ["411002", "411003", "411081", "411082", "411024", "411025", "411071", "411072", "411073"]
    return generate_enterprises(n, units, DEFAULT_CATEGORIES, seed=seed, today=date(2026, 11, 1))


def run(report: Report) -> None:
    from xcapp.extensions import db
    from xcapp.registry.importing import analyse, apply
    from xcapp.registry.tabular import read_table

    rows = _rows(LIST_ROWS, seed=1)
    data, rest = _csv(rows[:IMPORT_ROWS]), _csv(rows[IMPORT_ROWS:])
    for kind in databases():
        with fresh_database(kind) as url:
            app = make_app(url)
            with app.app_context():
                _, parse = timed(lambda: read_table(data, "e.csv", max_rows=50_000))
                _, check = timed(lambda: analyse("enterprises", data, "e.csv"))
                db.session.rollback()

                def do_import():
                    preview = apply("enterprises", data, "e.csv")
                    db.session.commit()
                    return preview

                preview, imp = timed(do_import)
                assert preview.summary()["created"] == IMPORT_ROWS
                again, reimp = timed(do_import)
                assert again.summary()["unchanged"] == IMPORT_ROWS
                report.add(f"import {IMPORT_ROWS} rows [{kind}]: {imp[0]:.2f} s (target <= 10 s; "
                           f"floor = reading the CSV {parse[0]:.2f} s, ratio {imp[0] / parse[0]:.1f}x; "
                           f"validation only {check[0]:.2f} s; re-import unchanged {reimp[0]:.2f} s)")
                # Grow to 20,000 enterprises and time the list page.
                apply("enterprises", rest, "e2.csv")
                db.session.commit()
                _list_page(app, report, kind)
                db.session.remove()
                db.engine.dispose()


def _list_page(app, report: Report, kind: str) -> None:
    from xcapp.auth.services import create_user
    from xcapp.extensions import db

    create_user("bench_admin", "bench-password", "city_admin", "411000")
    db.session.commit()
    client = app.test_client()
    client.post("/auth/login", data={"username": "bench_admin", "password": "bench-password"})
    queries = {"first page": "/registry/enterprises", "search name": "/registry/enterprises?q=化工",
               "search USCC": "/registry/enterprises?q=MA1", "filter unit+risk": "/registry/enterprises?unit=411081&risk=高",
               "page 200": "/registry/enterprises?page=200"}
    floor_times = [timed(lambda: client.get("/healthz"))[1][0] for _ in range(20)]
    floor = median(floor_times)
    for label, url in queries.items():
        times = []
        for _ in range(15):
            response, t = timed(lambda: client.get(url, headers={"HX-Request": "true"}))
            assert response.status_code == 200
            times.append(t[0])
        report.add(f"enterprise list over {LIST_ROWS} [{kind}] {label}: median {median(times) * 1000:.1f} ms, "
                   f"p95 {p95(times) * 1000:.1f} ms (floor /healthz {floor * 1000:.1f} ms, "
                   f"ratio {median(times) / floor:.1f}x)")
