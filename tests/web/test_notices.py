"""Notices read back with pypdf: 检查通知书, 责令整改通知书, 匹配清单."""
import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tests.web.reports_data import build
from xcapp.extensions import db


@pytest.fixture
def data(app, make_enterprise, make_officer, make_user):
    return build(make_enterprise, make_officer, make_user)


def _text(raw: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(raw)).pages).replace("\n", "")


def test_inspection_notice_cli_names_plan_window_officers_and_what_to_prepare(data, runner, tmp_path):
    task = data.weidu[0]
    out = tmp_path / "notice.pdf"
    result = runner.invoke(args=["tasks", "notice", task.code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _text(out.read_bytes())
    assert "监督检查通知书" in text and task.enterprise.name in text and task.code in text
    assert data.plan.code in text and data.plan.name in text
    end = data.plan.deadline
    assert f"{end.year} 年 {end.month} 月 {end.day} 日" in text
    assert len(task.active_officers) >= 2
    for place in task.active_officers:
        assert place.officer.name in text and place.cert_no in text
    assert "生产许可证" in text and "自查报告" in text and "1～12" in text
    assert runner.invoke(args=["tasks", "notice", "无此任务", "-o", str(tmp_path / "x.pdf")]).exit_code != 0


def test_inspection_notice_route_is_scoped(data, client, auth, make_user):
    task = data.weidu[0]                       # 魏都区
    auth.login_as(data.admin)
    response = client.get(f"/reports/tasks/{task.id}/notice.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    auth.login_as(make_user("county_admin", "411081"))
    assert client.get(f"/reports/tasks/{task.id}/notice.pdf").status_code == 404


def test_rectify_notice_from_the_order_action(data, client, auth, make_user):
    from xcapp.audit.models import AuditLog
    from xcapp.oversight.models import FollowUpCase

    task = data.weidu[1]                       # 魏都区, 不合格, 责令整改 recorded
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == task.id))
    auth.login_as(data.admin)
    page = client.get(f"/reports/cases/{case.id}/rectify-notice")
    assert page.status_code == 200
    assert "出厂检验记录缺失" in page.get_data(as_text=True)        # the record's problems proposed
    assert client.get(f"/reports/cases/{case.id}/rectify-notice.pdf").status_code == 404   # nothing stored yet
    # Missing legal basis: refused with a message, nothing stored.
    refused = client.post(f"/reports/cases/{case.id}/rectify-notice",
                          data={"number": "许魏市监责改〔2030〕1号", "problems": "出厂检验记录缺失", "legal_basis": ""})
    assert refused.status_code == 422 and "请填写法律依据" in refused.get_data(as_text=True)
    assert client.get(f"/reports/cases/{case.id}/rectify-notice.pdf").status_code == 404
    basis = "《中华人民共和国工业产品生产许可证管理条例》第四十七条"
    saved = client.post(f"/reports/cases/{case.id}/rectify-notice",
                        data={"number": "许魏市监责改〔2030〕1号", "problems": "1. 出厂检验记录缺失\n2. 温度记录 ≥ 25℃ 未标注",
                              "legal_basis": basis})
    assert saved.status_code == 302
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "followup.rectify_notice_saved")) is not None
    pdf = client.get(f"/reports/cases/{case.id}/rectify-notice.pdf")
    assert pdf.status_code == 200
    text = _text(pdf.data)
    order = [a for a in case.actions if a.action == "order"][-1]
    assert "责令整改通知书" in text and "许魏市监责改〔2030〕1号" in text and basis in text
    assert "出厂检验记录缺失" in text and "≥ 25℃" in text and task.enterprise.name in text
    # (a wrapped line may lose the space before it in text extraction)
    assert f"{order.deadline.year}年{order.deadline.month}月{order.deadline.day}日前改正" in text.replace(" ", "")
    # Read-only staff see it but cannot change it; another county gets 404.
    auth.login_as(make_user("readonly", "411000"))
    assert client.post(f"/reports/cases/{case.id}/rectify-notice",
                       data={"problems": "x", "legal_basis": "y"}).status_code == 403
    auth.login_as(make_user("county_admin", "411081"))
    assert client.get(f"/reports/cases/{case.id}/rectify-notice.pdf").status_code == 404


def test_matching_list_filtered_by_unit_and_officer(data, client, auth):
    auth.login_as(data.city)
    whole = _text(client.get(f"/reports/plans/{data.plan.id}/matching.pdf").data)
    assert "检查任务匹配清单" in whole
    assert all(t.code in whole for t in data.tasks)
    weidu = _text(client.get(f"/reports/plans/{data.plan.id}/matching.pdf?unit=411002").data)
    assert all((t.code in weidu) == (t.unit.code == "411002") for t in data.tasks)
    officer = data.weidu[0].active_officers[0].officer
    mine = _text(client.get(f"/reports/plans/{data.plan.id}/matching.pdf?officer={officer.id}").data)
    assert officer.name in mine and officer.cert_no in mine
    assert all((t.code in mine) == any(o.officer_id == officer.id for o in t.active_officers) for t in data.tasks)
    # A county admin's list holds its own unit only.
    auth.login_as(data.admin)
    own = _text(client.get(f"/reports/plans/{data.plan.id}/matching.pdf").data)
    assert all((t.code in own) == (t.unit.code == "411002") for t in data.tasks)
