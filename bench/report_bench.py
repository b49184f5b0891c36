"""Documents at scale (issue 13): the summary report of a province-size plan (3,750 tasks;
target <= 5 s) beside the time to merely load the rows it counts, and the archive of a plan of
1,000 tasks with 3 photos each, streamed, with the peak memory of the process that writes it
(target <= 200 MB) beside the same process before it starts (the floor)."""
from __future__ import annotations

import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, datetime, timedelta

from .common import Report, databases, fresh_database, make_app, timed

ARCHIVE_TASKS = int(os.environ.get("BENCH_ARCHIVE_TASKS", "1000"))
PHOTOS_PER_TASK = 3
DAY = date(2026, 9, 1)


def _results(plan_id: int, share_done: float = 0.9, seed: int = 13, photos: list[bytes] | None = None) -> dict:
    """Inspections, answers, publications and follow-up cases for the plan's tasks, bulk-inserted."""
    from sqlalchemy import func, select

    from xcapp.extensions import db
    from xcapp.inspections import rules
    from xcapp.demo.inspections import FAILING, PASSING
    from xcapp.inspections.models import Answer, Blob, Inspection, Photo
    from xcapp.oversight.models import FollowUpAction, FollowUpCase
    from xcapp.plans.models import Task
    from xcapp.publicity.models import Publication

    rnd = random.Random(seed)
    tasks = db.session.execute(select(Task.id).where(Task.plan_id == plan_id).order_by(Task.id)).scalars().all()
    now = datetime(2026, 10, 1)
    inspections, kinds = [], {}
    for task_id in tasks:
        if rnd.random() > share_done:
            continue
        r = rnd.random()
        kind = "not" if r < 0.05 else ("fail" if r < 0.2 else "pass")
        kinds[task_id] = kind
        inspections.append({"task_id": task_id, "revision": 1, "state": "approved" if rnd.random() < 0.9 else "submitted",
                            "created_at": now, "method": "实地检查", "problem_summary": "", "summary_edited": False,
                            "self_check_match": "", "self_check_note": "", "enterprise_opinion": "无异议",
                            "enterprise_rep": "代表", "refused": False, "refusal_reason": "", "refusal_attested_by": "[]",
                            "not_inspected_reason": "suspended" if kind == "not" else "", "not_inspected_remark": "",
                            "inspection_date": DAY + timedelta(days=rnd.randrange(30)),
                            "conclusion": {"pass": "pass", "fail": "fail", "not": ""}[kind], "submitted_by": "bench",
                            "seal_hash": "", "reviewed_by": "bench", "return_reason": ""})
    _insert(Inspection.__table__, inspections)
    ids = dict(db.session.execute(select(Inspection.task_id, Inspection.id).where(
        Inspection.task_id.in_(select(Task.id).where(Task.plan_id == plan_id)))).all())
    answers, pubs, cases = [], [], []
    for task_id, kind in kinds.items():
        iid = ids[task_id]
        if kind != "not":
            failing = {no: code for no, code, _ in rnd.sample(FAILING, rnd.randint(1, 2))} if kind == "fail" else {}
            for no, code in PASSING.items():
                answers.append({"inspection_id": iid, "item_no": no, "record": failing.get(no, code),
                                "conclusion": rules.NONCONFORM if no in failing else rules.CONFORM, "remark": "",
                                "version": 1, "updated_by": "bench", "updated_by_name": "bench"})
            answers.append({"inspection_id": iid, "item_no": 12, "record": rules.NO_EXTRA_ITEMS, "conclusion": "",
                            "remark": "", "version": 1, "updated_by": "bench", "updated_by_name": "bench"})
        if rnd.random() < 0.7:
            first = now + timedelta(days=rnd.randrange(40))
            pub = {"inspection_id": iid, "category": "no_problem", "exported_by": "bench",
                   "first_published_at": first, "last_exported_at": now}
            if "confirmed_on" in Publication.__table__.c:     # published = upload confirmed, with its date
                pub.update(confirmed_on=first.date(), confirmed_by="bench", confirmed_at=first)
            pubs.append(pub)
        if kind in ("fail", "not"):
            cases.append({"task_id": task_id, "inspection_id": iid, "kind": "fail" if kind == "fail" else "not_inspected",
                          "state": "rectifying" if kind == "fail" else "pending", "rectified": False, "created_at": now,
                          "rectify_deadline": DAY + timedelta(days=60) if kind == "fail" else None})
    _insert(Answer.__table__, answers)
    _insert(Publication.__table__, pubs)
    _insert(FollowUpCase.__table__, cases)
    case_ids = db.session.execute(select(FollowUpCase.id, FollowUpCase.kind)).all()
    _insert(FollowUpAction.__table__, [
        {"case_id": cid, "action": "order", "note": "限期整改", "deadline": DAY + timedelta(days=60), "recheck_passed": None,
         "from_state": "pending", "to_state": "rectifying", "at": now, "by": "bench"}
        for cid, kind in case_ids if kind == "fail"])
    n_photos = 0
    if photos:
        import hashlib

        for task_id, iid in ids.items():
            rows = []
            for k in range(PHOTOS_PER_TASK):
                data = photos[(task_id + k) % len(photos)]
                rows.append({"sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/jpeg",
                             "size": len(data), "data": data, "filename": "", "created_at": now, "created_by": "bench"})
            _insert(Blob.__table__, rows)
            blob_ids = db.session.execute(select(Blob.id).order_by(Blob.id.desc()).limit(PHOTOS_PER_TASK)).scalars().all()
            _insert(Photo.__table__, [
                {"inspection_id": iid, "item_no": (1, 6, 9)[k], "blob_id": b, "thumb_blob_id": b, "uploaded_at": now,
                 "uploaded_by": "bench", "sha256": rows[k]["sha256"]} for k, b in enumerate(sorted(blob_ids))])
            n_photos += PHOTOS_PER_TASK
            if n_photos % 600 == 0:
                db.session.commit()
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return {"tasks": len(tasks), "inspections": len(inspections), "answers": len(answers), "cases": len(cases),
            "photos": n_photos, "photo_bytes": db.session.scalar(select(func.coalesce(func.sum(Blob.size), 0)))}


def _insert(table, rows: list[dict]) -> None:
    """bulk_insert with every column's Python-side default filled in (PostgreSQL's COPY
    would otherwise write NULL into NOT NULL columns)."""
    from xcapp.db_setup import bulk_insert
    from xcapp.extensions import db

    now = datetime(2026, 10, 1)
    for column in table.columns:
        if column.primary_key or column.default is None:
            continue
        value = column.default.arg if column.default.is_scalar else now
        for row in rows:
            row.setdefault(column.name, value)
    bulk_insert(db.session, table, rows)


def _plan(code: str, ratios: tuple[int, int, int, int]):
    from xcapp.extensions import db
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, freeze_plan

    plan = create_plan({"code": code, "name": "bench", "year": 2026, "k": 2, "deadline": "2026-12-31",
                        "ratio_low": ratios[0], "ratio_mid": ratios[1], "ratio_midhigh": ratios[2],
                        "ratio_high": ratios[3], "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "bench")
    dispatch_plan(plan.id)
    db.session.commit()
    return plan


class _City:
    role = "city_admin"
    is_authenticated = True


def summary(report: Report) -> None:
    """工作总结统计表 over a province: 20,000 enterprises, 150 units, 3,750 tasks."""
    from sqlalchemy import select

    from xcapp.extensions import db
    from xcapp.inspections.models import Answer, Inspection
    from xcapp.plans.models import Task
    from xcapp.oversight.figures import summary as figures
    from xcapp.reports.summary import to_pdf, to_xlsx

    from .draw_bench import load_registry

    for kind in databases():
        with fresh_database(kind) as url:
            app = make_app(url)
            with app.app_context():
                load_registry(20_000, 2_000, 150)
                plan = _plan("BENCH-report", (10, 20, 30, 50))
                counts = _results(plan.id)

                def floor():
                    tasks = db.session.execute(select(Task.id, Task.unit_id).where(Task.plan_id == plan.id)).all()
                    rows = db.session.execute(select(Inspection.id, Inspection.state, Inspection.conclusion)
                                              .join(Task, Task.id == Inspection.task_id)
                                              .where(Task.plan_id == plan.id)).all()
                    answers = db.session.execute(select(Answer.inspection_id, Answer.conclusion)).all()
                    return len(tasks) + len(rows) + len(answers)

                _, t_floor = timed(floor, repeat=3)
                with app.test_request_context():
                    def xlsx():
                        db.session.expire_all()
                        return to_xlsx(figures(plan, _City()))

                    def pdf():
                        db.session.expire_all()
                        return to_pdf(figures(plan, _City()))

                    xlsx()                      # warm: imports, template compile
                    data, t_xlsx = timed(xlsx, repeat=3)
                    pdf_data, t_pdf = timed(pdf, repeat=2)
                report.add(f"summary report [province {counts['tasks']} tasks, {counts['inspections']} records, "
                           f"{counts['answers']:,} answers, {counts['cases']} cases, {kind}]: XLSX {min(t_xlsx):.2f} s "
                           f"({len(data) // 1024} KB), PDF {min(t_pdf):.2f} s ({len(pdf_data) // 1024} KB); floor = "
                           f"loading the task, record and answer rows {min(t_floor):.2f} s; ratio XLSX/floor "
                           f"{min(t_xlsx) / min(t_floor):.1f}x (target <= 5 s)")
                db.session.remove()
                db.engine.dispose()


def _jpegs(n: int = 4) -> list[bytes]:
    """Photo-like JPEGs (noise compresses as badly as a real photo): about 100-150 KB each."""
    from PIL import Image

    out = []
    for seed in range(n):
        rnd = random.Random(seed)
        img = Image.frombytes("RGB", (640, 480), bytes(rnd.getrandbits(8) for _ in range(640 * 480 * 3)))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def archive(report: Report) -> None:
    """The archive of a plan of 1,000 tasks with 3 photos each, streamed, in a separate process
    whose peak RSS is the figure (SQLite: the photos live in the database file)."""
    from xcapp.extensions import db

    from .draw_bench import load_registry

    with fresh_database("sqlite") as url:
        app = make_app(url)
        with app.app_context():
            # About 7 % of synthetic enterprises are outside the population (licence expired or
            # cancelled): load enough for the plan to have ARCHIVE_TASKS tasks or a few more.
            load_registry(int(ARCHIVE_TASKS / 0.92), 60, 9)
            plan = _plan("BENCH-archive", (100, 100, 100, 100))
            counts = _results(plan.id, share_done=1.0, photos=_jpegs())
            db.session.remove()
            db.engine.dispose()
        env = dict(os.environ)
        done = subprocess.run([sys.executable, "-m", "bench.report_bench", "archive-child", url, "BENCH-archive"],
                              capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))
        if done.returncode != 0:
            report.add(f"plan archive: FAILED {done.stderr[-2000:]}")
            return
        figures = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
        base, peak = int(figures["base_kb"]) / 1024, int(figures["peak_kb"]) / 1024
        report.add(f"plan archive [sqlite, {counts['tasks']} tasks, {counts['photos']} photos of "
                   f"{counts['photo_bytes'] / 2 ** 20:.0f} MB, streamed]: {float(figures['seconds']):.0f} s, "
                   f"{int(figures['files'])} files, ZIP {int(figures['bytes']) / 2 ** 20:.0f} MB; peak memory "
                   f"{peak:.0f} MB RSS; floor = the same process before writing {base:.0f} MB; ratio {peak / base:.1f}x "
                   f"(target peak <= 200 MB)")


def _archive_child(url: str, plan_code: str) -> None:
    os.environ.setdefault("XCAPP_INSTANCE", "/tmp")
    from xcapp import create_app
    from xcapp.config import TestConfig
    from xcapp.extensions import db
    from xcapp.plans.models import Plan
    from xcapp.reports.archive import stream_plan_archive

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context(), app.test_request_context():
        plan = db.session.scalar(db.select(Plan).where(Plan.code == plan_code))
        from xcapp.inspections.pdf import render_blank_pdf

        render_blank_pdf()         # the floor includes the font and the PDF engine loaded once
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        size = 0
        with tempfile.TemporaryFile() as sink:
            for chunk in stream_plan_archive(plan, _City()):     # what a web download sends, chunk by chunk
                size += len(chunk)
                sink.write(chunk)
            elapsed = time.perf_counter() - start
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            sink.seek(0)
            files = len(zipfile.ZipFile(sink).namelist())
    print(f"base_kb={base} peak_kb={peak} seconds={elapsed:.1f} bytes={size} files={files}")


def run(report: Report) -> None:
    summary(report)
    archive(report)


if __name__ == "__main__":
    if sys.argv[1:2] == ["archive-child"]:
        _archive_child(sys.argv[2], sys.argv[3])
    else:
        r = Report("report bench")
        run(r)
