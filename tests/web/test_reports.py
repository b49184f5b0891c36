"""The summary report (工作总结统计表): XLSX and PDF read back, figures equal to the dashboard's."""
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.web.reports_data import build
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.oversight.services import facts, totals, unit_rows


@pytest.fixture
def data(app, make_enterprise, make_officer, make_user):
    return build(make_enterprise, make_officer, make_user)


def _sheets(raw: bytes) -> dict:
    wb = load_workbook(io.BytesIO(raw))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _by_unit(rows):
    header, body = rows[0], rows[1:]
    return {r[0]: dict(zip(header, r)) for r in body}


def test_cli_xlsx_equals_the_dashboard(data, runner, tmp_path, client, auth):
    out = tmp_path / "summary.xlsx"
    result = runner.invoke(args=["reports", "summary", data.plan.code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    sheets = _sheets(out.read_bytes())
    assert list(sheets)[:3] == ["任务完成情况", "不符合项目统计", "后续处理情况"]
    tasks = _by_unit(sheets["任务完成情况"])
    # The dashboard's own functions, and the figures known from the fixture.
    rows = unit_rows(facts(data.plan, data.city))
    for row in [*rows, totals(rows)]:
        got = tasks[row.unit.name if row.unit else "合计"]
        for key, label in (("drawn", "抽取任务"), ("inspected", "已检查"), ("not_inspected", "未能检查"),
                           ("pass", "合格"), ("fail", "不合格"), ("published", "已公示"),
                           ("published_on_time", "按期公示"), ("published_late", "逾期公示")):
            assert got[label] == row.counts[key], (label, got)
            assert isinstance(got[label], int)
        assert got["未能检查：停产"] == row.reasons.get("suspended", 0)
    weidu = tasks["魏都区"]
    assert (weidu["抽取任务"], weidu["已检查"], weidu["未能检查"], weidu["合格"], weidu["不合格"]) == (6, 4, 1, 2, 2)
    assert (weidu["已公示"], weidu["按期公示"], weidu["逾期公示"], weidu["未能检查：停产"]) == (1, 1, 0, 1)
    assert weidu["任务完成率"] == pytest.approx(5 / 6)           # a number, not text
    assert tasks["合计"]["抽取任务"] == 9 and tasks["禹州市"]["不合格"] == 1
    items = {r[0]: r for r in sheets["不符合项目统计"][1:]}
    assert set(items) == set(range(1, 13))
    assert (items[6][2], items[7][2], items[4][2], items[1][2]) == (2, 1, 1, 0)
    assert items[6][3] == pytest.approx(2 / 6)                  # of the 6 inspected records
    outcomes = _by_unit(sheets["后续处理情况"])
    assert outcomes["魏都区"]["后续处理案件"] == 3 and outcomes["禹州市"]["后续处理案件"] == 1
    total = outcomes["合计"]
    assert (total["约谈"], total["责令整改"], total["复查合格"], total["复查不合格"], total["报请撤销或吊销"],
            total["已结案"], total["未结案"]) == (1, 2, 1, 1, 1, 0, 4)
    # The dashboard page shows the same per-item figures and offers the download.
    auth.login_as(data.city)
    page = client.get(f"/oversight/?plan={data.plan.id}").get_data(as_text=True)
    chart = page[page.index("不符合项目统计"):]
    for no in (4, 6, 7):
        text = rules.ALL_ITEMS[no].short or rules.ALL_ITEMS[no].text
        assert re.search(rf"<td>{no}</td><td>{re.escape(str(text))}</td>\s*<td><svg[^>]*>.*?</svg> {items[no][2]}</td>",
                         chart, re.S), no
    assert f"/reports/plans/{data.plan.id}/summary.xlsx" in page
    assert "约谈 1，责令整改 2，复查合格 1，复查不合格 1" in page


def test_pdf_with_charts_and_county_scope(data, client, auth):
    auth.login_as(data.city)
    response = client.get(f"/reports/plans/{data.plan.id}/summary.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "工作总结统计表" in text and "魏都区" in text and "禹州市" in text and data.plan.code in text
    assert "后续处理情况" in text and "任务完成率" in text
    assert b"XcappSerifSC" in response.data
    # A county admin's report holds its own unit only.
    auth.login_as(data.admin)
    raw = client.get(f"/reports/plans/{data.plan.id}/summary.xlsx")
    assert raw.status_code == 200 and "attachment" in raw.headers["Content-Disposition"]
    tasks = _by_unit(_sheets(raw.data)["任务完成情况"])
    assert set(tasks) == {"魏都区", "合计"} and tasks["合计"]["抽取任务"] == 6
    assert client.get(f"/reports/plans/{data.plan.id}/summary.doc").status_code == 404


def test_cli_refuses_unknown_plan_and_format(data, runner, tmp_path):
    result = runner.invoke(args=["reports", "summary", "无此计划", "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0 and "不存在" in result.output
    result = runner.invoke(args=["reports", "summary", data.plan.code, "-o", str(tmp_path / "x.doc")])
    assert result.exit_code != 0 and ".xlsx" in result.output
    assert not (tmp_path / "x.doc").exists()
