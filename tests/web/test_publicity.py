"""Publication: the PDF of the 一企两表, the publicity CSV, working days, public pages."""
import csv
import io
import subprocess
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.web.test_inspections import fill_all, finish
from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Inspection
from xcapp.publicity import categories
from xcapp.publicity.models import Publication
from xcapp.publicity.services import export_publicity, outcome_category, set_override
from xcapp.publicity.workdays import WorkdayCalendar


def _approved(client, auth, make_user, inspection, officers, override=None, refuse=False):
    fill_all(client, inspection, override)
    finish(client, inspection, officers, refuse=refuse)
    client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2026-11-02"})
    admin = make_user("county_admin", "411002")
    auth.login_as(admin)
    client.post(f"/inspections/{inspection.id}/approve")
    db.session.expire_all()
    return db.session.get(Inspection, inspection.id)


def test_pdf_has_every_item_name_conclusion_font_and_seal(started, client, auth, make_user):
    task, officers, users, inspection = started
    inspection = _approved(client, auth, make_user, inspection, officers, {3: "exists"})
    response = client.get(f"/inspections/{inspection.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    for item in rules.ITEMS.values():
        assert item.text.replace("\n", "") in text, item.no
    assert "许昌喆堃电缆有限公司" in text
    assert "☑不合格" in text and "关键生产设备表" in text
    assert inspection.seal_hash in text
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is not None and "XcappSerifSC" in font["/BaseFont"]:
                fonts.add(bool(descriptor.get_object().get("/FontFile2")))
    assert fonts == {True}, "the CJK font must be embedded"


def test_blank_form_and_public_record_check(started, client, auth, make_user):
    _task, officers, _users, inspection = started
    blank = client.get("/inspections/blank.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(blank.data)).pages)
    assert "空白表" in text and "☐合格" in text
    inspection = _approved(client, auth, make_user, inspection, officers)
    public = client.get(f"/public/records/{inspection.seal_hash[:16]}")
    assert public.status_code == 200 and "封存校验一致" in public.get_data(as_text=True)
    assert client.get("/public/records/0123456789abcdef").status_code == 404


def test_publicity_csv_header_encodings_and_first_published_date(started, client, auth, make_user):
    task, officers, _users, inspection = started
    inspection = _approved(client, auth, make_user, inspection, officers, {6: "not_tested"})
    plan = task.plan
    data = export_publicity(plan)
    db.session.commit()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["序号", "抽查计划编号", "抽查计划名称", "抽查任务编号", "企业名称", "统一社会信用代码", "检查实施机关",
                       "抽查检查类型", "检查方式", "抽查检查日期", "抽查检查结果", "备注"]
    assert rows[1][4] == "许昌喆堃电缆有限公司" and rows[1][9] == "2026-11-02" and rows[1][10] == "发现问题待后续处理"
    gb = export_publicity(plan, "gb18030")
    assert gb.decode("gb18030").split("\r\n")[1].split(",")[4] == "许昌喆堃电缆有限公司"
    first = db.session.scalar(select(Publication)).first_published_at
    export_publicity(plan)
    db.session.commit()
    db.session.expire_all()
    publication = db.session.scalar(select(Publication))
    assert publication.first_published_at == first and publication.last_exported_at >= first


def test_csv_neutralises_formulas(started, client, auth, make_user):
    task, officers, _users, inspection = started
    task.enterprise.name = "=HYPERLINK(\"http://evil\",\"x\")"
    db.session.commit()
    _approved(client, auth, make_user, inspection, officers)
    rows = list(csv.reader(io.StringIO(export_publicity(task.plan).decode("utf-8-sig"))))
    assert rows[1][4].startswith("'=")


@pytest.mark.parametrize("state,conclusion,reason,licence,expected", [
    ("approved", "pass", "", "有效", categories.CAT_NO_PROBLEM),
    ("approved", "fail", "", "有效", categories.CAT_PROBLEM_PENDING),
    ("approved", "", "suspended", "有效", categories.CAT_NO_ACTIVITY),
    ("approved", "", "switched", "有效", categories.CAT_NO_ACTIVITY),
    ("approved", "", "unreachable", "有效", categories.CAT_UNREACHABLE),
    ("approved", "", "refused", "有效", categories.CAT_UNCOOPERATIVE),
    ("approved", "", "deregistered", "注销", categories.CAT_DEREGISTERED),
    ("approved", "", "closed", "有效", categories.CAT_CLOSED),
    ("approved", "fail", "", "吊销", categories.CAT_REVOKED),
    ("approved", "fail", "", "撤销", categories.CAT_ANNULLED),
])
def test_every_outcome_maps_to_a_category(started, state, conclusion, reason, licence, expected):
    task, _o, _u, inspection = started
    inspection.state, inspection.conclusion, inspection.not_inspected_reason = state, conclusion, reason
    task.enterprise.licence_state = licence
    assert outcome_category(inspection) == expected


def test_working_days_across_national_day_holidays(app, runner):
    cases = {date(2023, 9, 25): date(2023, 10, 27), date(2024, 9, 20): date(2024, 10, 23),
             date(2025, 9, 25): date(2025, 10, 29)}
    for start, expected in cases.items():
        result = runner.invoke(args=["workdays", "add", start.isoformat(), "20"])
        assert result.output.strip() == expected.isoformat(), start
    unknown = runner.invoke(args=["workdays", "add", "2027-03-01", "20"])
    assert unknown.exit_code != 0 and "待定" in unknown.output
    # The city admin enters the schedule of a new year: an override changes the result.
    assert WorkdayCalendar().add_workdays(date(2023, 9, 25), 20) == date(2023, 10, 27)
    set_override(date(2023, 10, 9), "休", "测试：多放一天")
    db.session.commit()
    assert runner.invoke(args=["workdays", "add", "2023-09-25", "20"]).output.strip() == "2023-10-30"
    from xcapp.publicity.services import mark_year_complete

    mark_year_complete(2027, True)
    db.session.commit()
    assert runner.invoke(args=["workdays", "add", "2027-03-01", "20"]).output.strip() == "2027-03-29"


def test_workdays_page_and_override_form(client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    page = client.get("/publicity/workdays?start=2023-09-25&n=20").get_data(as_text=True)
    assert "2023-10-27" in page
    assert client.post("/publicity/workdays", data={"day": "2027-01-01", "kind": "休", "note": "元旦"}).status_code == 302
    assert "元旦" in client.get("/publicity/workdays").get_data(as_text=True)
    assert "待定" in client.get("/publicity/workdays?start=2027-06-01&n=20").get_data(as_text=True)


def test_public_results_page(started, client, auth, make_user):
    task, officers, _users, inspection = started
    _approved(client, auth, make_user, inspection, officers)
    assert client.get(f"/publicity/plans/{task.plan_id}/export.csv").status_code == 405   # GET changes nothing
    assert client.post(f"/publicity/plans/{task.plan_id}/export.csv").status_code == 200
    # Exported is not published: the public page shows it once the upload is confirmed.
    assert "许昌喆堃" not in client.get(f"/public/results?q={task.uscc}").get_data(as_text=True)
    publication = db.session.scalar(select(Publication))
    assert client.post(f"/publicity/plans/{task.plan_id}/confirm",
                       data={"on": local_today().isoformat(), "publication": [publication.id]}).status_code == 302
    auth.logout()
    page = client.get(f"/public/results?q={task.uscc}").get_data(as_text=True)
    assert "许昌喆堃电缆有限公司" in page and "未发现问题" in page
    assert officers[0].phone not in page
    assert "许昌喆堃" not in client.get("/public/results?q=不存在的企业").get_data(as_text=True)


def test_cli_publicity_export_and_task_pdf(started, client, auth, make_user, runner, tmp_path):
    task, officers, _users, inspection = started
    _approved(client, auth, make_user, inspection, officers, refuse=True)
    out = tmp_path / "p.csv"
    assert runner.invoke(args=["publicity", "export", task.plan.code, "-o", str(out), "--encoding", "gb18030"]).exit_code == 0
    assert "许昌喆堃电缆有限公司" in out.read_bytes().decode("gb18030")
    pdf = tmp_path / "t.pdf"
    result = runner.invoke(args=["tasks", "pdf", task.code, "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    text = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages)
    assert "企业拒绝签字" in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True)
    if fonts.returncode == 0:
        assert "XcappSerifSC" in fonts.stdout and " yes yes yes " in fonts.stdout
