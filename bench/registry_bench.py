"""Registry benchmarks: import of 10,000 enterprise rows (target <= 10 s), the
enterprise list (search, filter, page) over 20,000 enterprises, hostile workbooks
(refusal time and peak memory, issue 11.4) and other saves during a 38,000-row
import (issue 11.2)."""
from __future__ import annotations

import csv
import io
import os
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
    from xcapp.demo.synthetic import generate_enterprises

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
    trust(report)


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


# ------------------------------------------------------------- issue 11.2 / 11.4

LARGE_IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_LARGE", "38000"))


def trust(report: Report) -> None:
    """Hostile workbooks (time, peak RSS of the reading process) and saves during a large import."""
    _hostile(report)
    rows = _rows(LARGE_IMPORT_ROWS + 1, seed=3)
    data, first = _xlsx(rows[1:]), _csv(rows[:1])      # the saves update the first row, not in the file
    for kind in databases():
        with fresh_database(kind) as url:
            app = make_app(url)
            with app.app_context():
                _saves_during_import(app, report, kind, data, first)


def _xlsx(rows) -> bytes:
    from xcapp.registry.fields import ENTERPRISE_FIELDS
    from xcapp.registry.tabular import write_xlsx

    keys = ["name", "uscc", "address", "production_address", "legal_rep", "contact", "phone", "licence_no",
            "issue_date", "expiry_date", "category", "product_scope", "unit", "risk", "production_state",
            "licence_state"]
    return write_xlsx([s.header for s in ENTERPRISE_FIELDS], ([r[k] for k in keys] for r in rows))


_HOSTILE_CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from bench.registry_bench import hostile_file
from xcapp.registry.tabular import TableError, read_table
data = hostile_file(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_table(data, "h.xlsx", max_rows=50_000)
    outcome = "accepted"
except TableError as exc:
    outcome = exc.message
elapsed = time.perf_counter() - start
print(f"{len(data)}\t{elapsed:.3f}\t{before / 1024:.0f}\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\t{outcome}")
"""


def hostile_file(name: str) -> bytes:
    """The hostile workbooks of issue 11.4 (built like tests/unit/test_hostile_xlsx.py)."""
    import zipfile

    import openpyxl

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    book = openpyxl.Workbook()
    book.active.append(["企业名称"])
    book.active.append(["许昌某公司"])
    buf = io.BytesIO()
    book.save(buf)
    if name == "valid":
        return buf.getvalue()
    with zipfile.ZipFile(buf) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/sharedStrings" Target="/xl/sharedStrings.xml" Id="rIdShared"/></Relationships>')
    head = f'<worksheet xmlns="{main}"><sheetData>'.encode()
    one = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    sheet, shared = [head + one], [f'<sst xmlns="{main}"><si><t>x</t></si>'.encode()]
    if name == "rows":
        sheet += [b"<row/>" * 10_000] * 190            # 1.9 million empty rows
    elif name == "shared":
        shared += [b"<si><t>x</t></si>" * 10_000] * 1000   # 10 million shared strings
    elif name == "cells":
        sheet += [b"<row>" + b"<c/>" * 3_000_000 + b"</row>"]
    sheet.append(b"</sheetData></worksheet>")
    shared.append(b"</sst>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for part, content in parts.items():
            if part != "xl/worksheets/sheet1.xml":
                zf.writestr(part, content)
        for part, pieces in (("xl/sharedStrings.xml", shared), ("xl/worksheets/sheet1.xml", sheet)):
            with zf.open(part, "w") as fh:
                for piece in pieces:
                    fh.write(piece)
    return out.getvalue()


def _hostile(report: Report) -> None:
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = {}
    for name in ("valid", "rows", "shared", "cells"):
        out = subprocess.run([sys.executable, "-c", _HOSTILE_CHILD, root, name], capture_output=True, text=True,
                             timeout=600, check=True).stdout.strip().split("\t")
        results[name] = (int(out[0]), float(out[1]), float(out[2]), float(out[3]), out[4])
    _size, floor_s, _b, floor_rss, _o = results["valid"]
    for name, label in (("rows", "1.9 M empty rows"), ("shared", "10 M shared strings"),
                        ("cells", "3 M cells in one row")):
        size, seconds, before, peak, outcome = results[name]
        report.add(f"hostile xlsx [{label}, {size / 1024:.0f} KB]: refused in {seconds:.2f} s "
                   f"(floor = reading a 2-row workbook {floor_s * 1000:.0f} ms, ratio {seconds / floor_s:.0f}x); "
                   f"peak RSS {peak:.0f} MB, {peak - before:+.0f} MB over the process before reading "
                   f"(floor {floor_rss:.0f} MB; target <= 300 MB): {outcome}")


def _saves_during_import(app, report: Report, kind: str, data: bytes, first: bytes) -> None:
    """A 38,000-row workbook uploaded and confirmed through the web routes while another
    thread saves one row every 20 ms; the saves' latency against the same saves alone."""
    import threading
    import time

    from sqlalchemy import select, update

    from xcapp.auth.services import create_user
    from xcapp.extensions import db
    from xcapp.registry import importing
    from xcapp.registry.models import Enterprise, ImportBatch

    importing.MAX_IMPORT_ROWS = max(importing.MAX_IMPORT_ROWS, LARGE_IMPORT_ROWS)
    create_user("bench_importer", "bench-password", "city_admin", "411000")
    db.session.commit()
    importing.apply("enterprises", first, "one.csv")   # the row every save below updates
    db.session.commit()
    target = db.session.scalar(select(Enterprise.id))

    def one_save() -> float:
        with app.app_context(), app.test_request_context("/bench", method="POST"):
            start = time.perf_counter()
            db.session.execute(update(Enterprise).where(Enterprise.id == target).values(contact=str(start)))
            db.session.commit()
            return time.perf_counter() - start

    alone = [one_save() for _ in range(100)]
    client = app.test_client()
    client.post("/auth/login", data={"username": "bench_importer", "password": "bench-password"})
    during: list[float] = []
    stop = threading.Event()

    def saver():
        while not stop.is_set():
            during.append(one_save())
            time.sleep(0.02)

    thread = threading.Thread(target=saver)
    thread.start()
    started = time.perf_counter()
    response = client.post("/registry/import", data={"kind": "enterprises", "file": (io.BytesIO(data), "big.xlsx")},
                           content_type="multipart/form-data")
    staged = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    batch_id = db.session.scalar(select(ImportBatch.id).order_by(ImportBatch.id.desc()))
    started = time.perf_counter()
    response = client.post(f"/registry/import/{batch_id}/apply")
    applied = time.perf_counter() - started
    stop.set()
    thread.join()
    assert response.status_code == 302, response.status_code
    report.add(f"saves during a {LARGE_IMPORT_ROWS}-row xlsx import [{kind}]: upload+check {staged:.1f} s, "
               f"confirm {applied:.1f} s ({-(-LARGE_IMPORT_ROWS // importing.WRITE_CHUNK)} write chunks); "
               f"{len(during)} saves meanwhile p50 {median(during) * 1000:.1f} ms, p95 {p95(during) * 1000:.1f} ms, "
               f"max {max(during) * 1000:.0f} ms; same saves alone p50 {median(alone) * 1000:.1f} ms, "
               f"p95 {p95(alone) * 1000:.1f} ms (ratio p95 {p95(during) / p95(alone):.1f}x; 0 errors)")
    db.session.remove()
    db.engine.dispose()
