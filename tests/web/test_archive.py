"""Archives: the ZIP's manifest recomputed from its files, SHA256SUMS checked the way
`sha256sum -c` does, the seal of every revision recomputed from record.json."""
import hashlib
import io
import json
import shutil
import subprocess
import zipfile

import pytest
from pypdf import PdfReader

from tests.web.reports_data import build


@pytest.fixture
def data(app, make_enterprise, make_officer, make_user):
    return build(make_enterprise, make_officer, make_user)


def _check(raw: bytes, tmp_path) -> tuple[dict, zipfile.ZipFile]:
    z = zipfile.ZipFile(io.BytesIO(raw))
    names = z.namelist()
    assert len(names) == len(set(names))
    manifest = json.loads(z.read("manifest.json"))
    listed = {f["path"]: f for f in manifest["files"]}
    # Every file but SHA256SUMS and manifest.json itself is in the manifest, with its hash and size.
    assert set(names) - {"SHA256SUMS", "manifest.json"} == set(listed)
    for path, entry in listed.items():
        data = z.read(path)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["size"], path
    # SHA256SUMS covers every file including manifest.json.
    sums = {}
    for line in z.read("SHA256SUMS").decode("utf-8").splitlines():
        digest, path = line.split("  ", 1)
        sums[path] = digest
    assert set(sums) == set(names) - {"SHA256SUMS"}
    assert all(hashlib.sha256(z.read(p)).hexdigest() == d for p, d in sums.items())
    # The seal of each revision is recomputed from record.json alone.
    from xcapp.audit.services import canonical_json

    for record in manifest["records"]:
        payload = json.loads(z.read(record["record"]))["payload"]
        recomputed = hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
        assert recomputed == record["seal_recomputed"] or not record["seal_hash"]
        if record["seal_hash"]:
            assert record["seal_intact"] and recomputed == record["seal_hash"]
    # And with the real tool, when it is there.
    if shutil.which("sha256sum"):
        out = tmp_path / "unpacked"
        z.extractall(out)
        done = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr
    return manifest, z


def test_task_archive_cli_holds_every_part_of_the_record(data, runner, tmp_path):
    from xcapp.inspections.models import Inspection
    from xcapp.extensions import db

    task = data.weidu[0]              # approved, published, stamped, self-report, photos on items 1 and 6
    out = tmp_path / "task.zip"
    result = runner.invoke(args=["archive", "task", task.code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest, z = _check(out.read_bytes(), tmp_path)
    assert manifest["scope"] == {**manifest["scope"], "kind": "task", "task": task.code}
    kinds = {f["kind"] for f in manifest["files"]}
    assert {"record_pdf", "record_data", "photo", "signature", "stamped_copy", "self_report", "audit"} <= kinds
    names = z.namelist()
    assert f"{task.code}/第1版/照片/第01项-1.jpg" in names and f"{task.code}/第1版/照片/第06项-1.jpg" in names
    assert f"{task.code}/企业自查报告.txt" in names and f"{task.code}/审计记录.json" in names
    inspection = db.session.get(Inspection, data.inspections[task.code].id)
    assert manifest["records"][0]["seal_hash"] == inspection.seal_hash != ""
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(z.read(f"{task.code}/第1版/一企两表.pdf"))).pages)
    assert inspection.seal_hash in text
    audit = json.loads(z.read(f"{task.code}/审计记录.json"))
    assert {"inspection.started", "inspection.submitted", "inspection.approved"} <= {r["action"] for r in audit}
    # The follow-up log travels with a 不合格 task.
    failed = data.weidu[1]
    out2 = tmp_path / "failed.zip"
    assert runner.invoke(args=["archive", "task", failed.code, "-o", str(out2)]).exit_code == 0
    _manifest, z2 = _check(out2.read_bytes(), tmp_path / "2")
    log = json.loads(z2.read(f"{failed.code}/后续处理.json"))
    assert [a["action"] for a in log["actions"]] == ["interview", "order", "recheck"]
    assert runner.invoke(args=["archive", "task", "无此任务", "-o", str(tmp_path / "x.zip")]).exit_code != 0
    assert not (tmp_path / "x.zip").exists()


def test_plan_archive_streamed_for_the_city_scoped_for_a_county(data, client, auth, runner, tmp_path):
    auth.login_as(data.city)
    response = client.get(f"/reports/plans/{data.plan.id}/archive.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    manifest, z = _check(response.data, tmp_path / "city")
    assert manifest["scope"]["tasks"] == len(data.tasks)
    assert {r["task"] for r in manifest["records"]} == {code for code, i in data.inspections.items() if i}
    auth.login_as(data.admin)
    own, _z = _check(client.get(f"/reports/plans/{data.plan.id}/archive.zip").data, tmp_path / "county")
    assert {f["path"].split("/")[0] for f in own["files"] if "/" in f["path"]} == \
        {t.code for t in data.tasks if t.unit.code == "411002"}
    # The CLI writes the same set of files.
    out = tmp_path / "plan.zip"
    assert runner.invoke(args=["archive", "plan", data.plan.code, "-o", str(out)]).exit_code == 0
    cli_manifest, _ = _check(out.read_bytes(), tmp_path / "cli")
    assert {f["path"] for f in cli_manifest["files"]} - {"manifest.json"} == \
        {f["path"] for f in manifest["files"]} - {"manifest.json"}


def test_task_archive_route_is_scoped(data, client, auth, make_user):
    task = data.weidu[0]
    auth.login_as(make_user("county_admin", "411081"))
    assert client.get(f"/reports/tasks/{task.id}/archive.zip").status_code == 404
    auth.login_as(make_user("inspector", "411002"))
    assert client.get(f"/reports/tasks/{task.id}/archive.zip").status_code == 404
    assert client.get(f"/reports/plans/{data.plan.id}/archive.zip").status_code == 403


def test_pages_offer_the_documents(data, client, auth):
    from sqlalchemy import select

    from xcapp.extensions import db
    from xcapp.oversight.models import FollowUpCase

    auth.login_as(data.admin)
    task = data.weidu[0]
    plan_page = client.get(f"/plans/{data.plan.id}").get_data(as_text=True)
    assert f"/reports/plans/{data.plan.id}/archive.zip" in plan_page
    assert f"/reports/plans/{data.plan.id}/summary.xlsx" in plan_page
    task_page = client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    assert f"/reports/tasks/{task.id}/archive.zip" in task_page and f"/reports/tasks/{task.id}/notice.pdf" in task_page
    listing = client.get(f"/plans/{data.plan.id}/tasks?unit=411002").get_data(as_text=True)
    officer = task.active_officers[0]
    assert f"/reports/plans/{data.plan.id}/matching.pdf" in listing and f'value="{officer.officer_id}"' in listing
    review = client.get("/inspections/review").get_data(as_text=True)
    submitted = data.weidu[4]
    assert f"/reports/tasks/{submitted.id}/archive.zip" in review
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == data.weidu[1].id))
    assert f"/reports/cases/{case.id}/rectify-notice" in client.get(f"/oversight/cases/{case.id}").get_data(as_text=True)
