"""Issue 13.4: the licence database's own export as import input.

A file in the licence database's layout (its own headers, no 所属单位, no 风险等级, a
column the registry does not know) goes through the web import end to end: upload →
map the unknown columns → preview with the units proposed from the addresses →
confirm → enterprises with risk 待定 → risk-classification import → risk set with
history. A plan whose scope holds a 待定 enterprise cannot be frozen.
"""
import csv
import io
import json
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from xcapp.audit.models import AuditLog
from xcapp.core.models import Unit
from xcapp.extensions import db
from xcapp.plans.models import Plan
from xcapp.registry.importing import analyse
from xcapp.registry.models import ChangeRecord, Enterprise, ImportBatch
from xcapp.registry.validation import make_uscc

# The licence database's export: its own headers and order, plus two columns it has
# that the registry does not know (检验方式 is ignored by the user, 法人 is mapped).
LICENCE_HEADERS = ["序号", "证书编号", "企业名称", "统一社会信用代码", "住所", "生产地址", "产品名称", "产品明细",
                   "发证日期", "有效期至", "发证机关", "检验方式", "法人"]


def uscc(n):
    return make_uscc(f"91411000MA{n:07d}")


def licence_rows():
    return [
        # 生产地址 names the county; 住所 elsewhere: the production address decides.
        [1, "豫XK06-001-13001", "许昌许可一号电缆有限公司", uscc(1), "郑州市金水区花园路1号",
         "许昌市魏都区建设路8号", "电线电缆", "架空绞线", "2023-03-01", "2028-02-28", "河南省市场监督管理局",
         "现场审查", "王一"],
        [2, "豫XK06-001-13002", "禹州许可二号电缆有限公司", uscc(2), "禹州市颍川办事处府东路2号", "",
         "电线电缆", "塑料绝缘控制电缆", "2023-04-01", "2028-03-31", "河南省市场监督管理局", "现场审查", "李二"],
        [3, "豫XK13-014-13003", "许昌许可三号化工有限公司", uscc(3), "许昌市经济技术开发区瑞祥路3号",
         "许昌市经济技术开发区瑞祥路3号", "危险化学品", "工业硫酸", "2023-05-01", "2028-04-30",
         "河南省市场监督管理局", "", "张三"],
    ]


def licence_csv_gb18030() -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(LICENCE_HEADERS)
    writer.writerows(licence_rows())
    return buf.getvalue().encode("gb18030")


def licence_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "生产许可证"
    sheet.append(LICENCE_HEADERS)
    for row in licence_rows():
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def risk_csv(rows, encoding="gb18030") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["统一社会信用代码", "风险等级"])
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def upload(client, kind, data, name):
    return client.post("/registry/import", data={"kind": kind, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def last_batch():
    return db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()))


def unit_id(code):
    return db.session.scalar(select(Unit.id).where(Unit.code == code))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_licence_database_export_end_to_end(client, auth, make_user, fmt):
    admin = make_user("city_admin")
    auth.login_as(admin)
    data, name = (licence_xlsx(), "许可证.xlsx") if fmt == "xlsx" else (licence_csv_gb18030(), "许可证.csv")

    # 1. Upload: the known headers are accepted through aliases (证书编号, 产品名称, 产品明细,
    # 发证机关 ignored); 检验方式 and 法人 are unknown and the preview asks for a mapping.
    response = upload(client, "enterprises", data, name)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    batch = last_batch()
    assert batch.status == "mapping" and batch.mapping_dict == {}
    assert 'id="import-mapping"' in page and "列“检验方式”对应" in page and "列“法人”对应" in page
    assert "列“发证机关”" not in page and "列“证书编号”" not in page
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0

    # 2. Map: 检验方式 ignored, 法人 → 法定代表人. Kept with the batch, audited.
    response = client.post(f"/registry/import/{batch.id}/map",
                           data={"header": ["检验方式", "法人"], "target": ["__ignore__", "legal_rep"]})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    db.session.expire_all()
    batch = db.session.get(ImportBatch, batch.id)
    assert batch.status == "previewed"
    assert batch.mapping_dict == {"检验方式": "", "法人": "legal_rep"}
    mapped = db.session.scalar(select(AuditLog).where(AuditLog.action == "import.mapped"))
    assert mapped is not None and json.loads(mapped.details)["mapping"] == {"检验方式": "", "法人": "legal_rep"}

    # 3. Preview: the units proposed from the addresses, shown for confirmation; risk 待定 announced.
    assert "将新增 <strong>3</strong> 条" in page
    proposals = page.split('id="import-proposals"', 1)[1].split("</details>", 1)[0]
    assert re.search(r"许昌许可一号电缆有限公司</td><td>魏都区", proposals)
    assert re.search(r"禹州许可二号电缆有限公司</td><td>禹州市", proposals)
    assert re.search(r"许昌许可三号化工有限公司</td><td>经济技术开发区", proposals)
    assert "3 户新企业的文件中没有风险等级，将登记为“待定”" in page

    # 4. Confirm: written with the mapping kept on the batch.
    response = client.post(f"/registry/import/{batch.id}/apply")
    assert response.status_code == 302
    enterprises = {e.uscc: e for e in db.session.scalars(select(Enterprise))}
    assert len(enterprises) == 3
    first = enterprises[uscc(1)]
    assert first.unit_id == unit_id("411002") and first.risk == "待定"
    assert first.licence_no == "豫XK06-001-13001" and first.legal_rep == "王一"
    assert first.category.name == "电线电缆" and first.product_scope == "架空绞线"
    assert first.address == "郑州市金水区花园路1号" and first.production_address == "许昌市魏都区建设路8号"
    assert enterprises[uscc(2)].unit_id == unit_id("411081")
    assert enterprises[uscc(3)].unit_id == unit_id("411071")
    assert {e.risk for e in enterprises.values()} == {"待定"}

    # 5. The risk-classification import (USCC, 风险等级), GB18030: updates, with history.
    response = upload(client, "risk", risk_csv([[uscc(1), "高风险"], [uscc(2), "低"], [uscc(3), "待定"]]),
                      "风险分级.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "将新增 <strong>0</strong> 条，更新 <strong>2</strong> 条，1 条无变化" in page
    risk_batch = last_batch()
    assert client.post(f"/registry/import/{risk_batch.id}/apply").status_code == 302
    db.session.expire_all()
    assert db.session.get(Enterprise, first.id).risk == "高"
    assert db.session.get(Enterprise, enterprises[uscc(2)].id).risk == "低"
    assert db.session.get(Enterprise, enterprises[uscc(3)].id).risk == "待定"
    change = db.session.scalar(select(ChangeRecord).where(ChangeRecord.object_id == first.id,
                                                         ChangeRecord.field == "风险等级",
                                                         ChangeRecord.action == "导入修改"))
    assert (change.old, change.new, change.username) == ("待定", "高", admin.username)


def test_the_mapping_is_checked_on_the_server(client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    upload(client, "enterprises", licence_csv_gb18030(), "许可证.csv")
    batch = last_batch()
    url = f"/registry/import/{batch.id}/map"
    refused = [
        ({"header": ["检验方式", "法人"], "target": ["__ignore__", "password_hash"]}, "对应项无效"),
        ({"header": ["检验方式", "法人"], "target": ["legal_rep", "legal_rep"]}, "不能同时对应"),
        ({"header": ["检验方式", "法人"], "target": ["__ignore__", "licence_no"]}, "文件中已有该列"),
        ({"header": ["法人"], "target": ["legal_rep"]}, "请为列“检验方式”选择对应项"),
        ({"header": ["检验方式", "法人", "备注X"], "target": ["__ignore__", "legal_rep", "contact"]}, "无需对应"),
    ]
    for data, message in refused:
        response = client.post(url, data=data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    db.session.expire_all()
    batch = db.session.get(ImportBatch, batch.id)
    assert batch.status == "mapping" and batch.mapping == ""
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "import.mapped")) == 0
    # Confirming before the mapping writes nothing.
    client.post(f"/registry/import/{batch.id}/apply")
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
    # Without the CSRF token the mapping is refused (the test app enables CSRF only here).
    client.application.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(url, data={"header": ["检验方式", "法人"], "target": ["__ignore__", "legal_rep"]})
        assert response.status_code == 400
    finally:
        client.application.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).mapping == ""


def test_an_applied_batch_cannot_be_remapped(client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    upload(client, "enterprises", licence_csv_gb18030(), "许可证.csv")
    batch = last_batch()
    mapping = {"header": ["检验方式", "法人"], "target": ["__ignore__", "legal_rep"]}
    assert client.post(f"/registry/import/{batch.id}/map", data=mapping).status_code == 200
    assert client.post(f"/registry/import/{batch.id}/apply").status_code == 302
    response = client.post(f"/registry/import/{batch.id}/map",
                           data={"header": ["检验方式", "法人"], "target": ["__ignore__", "contact"]})
    assert response.status_code == 422 and "不能再修改列的对应关系" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).mapping_dict["法人"] == "legal_rep"


def test_county_admin_gets_only_proposals_of_its_own_unit(make_user):
    """11.1 kept: a unit proposed from the address that is not the county's own is a problem."""
    county = make_user("county_admin", "411002")
    mapping = {"检验方式": "", "法人": "legal_rep"}
    preview = analyse("enterprises", licence_csv_gb18030(), "许可证.csv", county, mapping)
    assert not preview.ok
    rows = {p.row: p.message for p in preview.problems}
    assert set(rows) == {3, 4}      # 禹州市, 经济技术开发区; row 2 (魏都区) is fine
    assert "按地址应属禹州市" in rows[3] and "只能导入本单位" in rows[3]
    assert "按地址应属经济技术开发区" in rows[4]


def test_an_address_without_a_county_is_a_problem(app):
    rows = licence_rows()[:1]
    rows[0][4] = rows[0][5] = "河南省某地某路1号"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([LICENCE_HEADERS, *rows])
    preview = analyse("enterprises", buf.getvalue().encode("utf-8-sig"), "a.csv", None,
                      {"检验方式": "", "法人": ""})
    assert [(p.row, p.column) for p in preview.problems] == [(2, "住所")]
    assert "无法从生产地址或住所判断所属单位" in preview.problems[0].message


def test_a_unit_column_in_the_file_is_used_as_written(app):
    headers = [*LICENCE_HEADERS, "所属单位", "风险等级"]
    rows = [[*licence_rows()[0], "建安区", "中"]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([headers, *rows])
    preview = analyse("enterprises", buf.getvalue().encode("utf-8"), "a.csv", None, {"检验方式": "", "法人": ""})
    assert preview.ok, preview.problems
    plan = preview.creates[0]
    assert plan.clean["unit_id"] == unit_id("411003") and plan.clean["risk"] == "中" and not plan.proposed_unit


def test_risk_import_only_updates_registered_enterprises_in_scope(make_user, make_enterprise):
    own = make_enterprise(unit="411002", risk="待定")
    other = make_enterprise(unit="411081", risk="待定")
    county = make_user("county_admin", "411002")
    data = risk_csv([[own.uscc, "中高"], [other.uscc, "高"], [uscc(99), "低"], [own.uscc, "低"],
                     [make_uscc("91411002MA0000999"), "极高"]])
    preview = analyse("risk", data, "risk.csv", county)
    messages = {(p.row, p.column): p.message for p in preview.problems}
    assert "禹州市名下" in messages[(3, "统一社会信用代码")]
    assert "未登记" in messages[(4, "统一社会信用代码")]
    assert "与第 2 行重复" in messages[(5, "统一社会信用代码")]
    assert "未知的风险等级“极高”" in messages[(6, "风险等级")]
    ok = analyse("risk", risk_csv([[own.uscc, "中高"]]), "risk.csv", county)
    assert ok.ok and ok.updates[0].changes == [("风险等级", "待定", "中高")]


def test_enterprise_list_filters_and_shows_pending_risk(client, auth, make_user, make_enterprise):
    auth.login_as(make_user("city_admin"))
    pending = make_enterprise(risk="待定")
    classified = make_enterprise(risk="高")
    page = client.get("/registry/enterprises?risk=待定").get_data(as_text=True)
    assert pending.name in page and classified.name not in page
    assert "风险待定" in page and "待定风险" not in page


# ------------------------------------------------------- 待定 before the freeze

def _draft_plan(code="待定计划"):
    from xcapp.plans.services import create_plan

    plan = create_plan({"code": code, "name": "待定测试", "year": 2030, "ratio_low": 10, "ratio_mid": 20,
                        "ratio_midhigh": 30, "ratio_high": 50, "k": 2, "deadline": "2030-10-31", "scope": []})
    db.session.commit()
    return plan


def test_pending_risk_is_reported_and_blocks_the_freeze(client, auth, make_user, make_enterprise):
    auth.login_as(make_user("city_admin"))
    make_enterprise(risk="高")
    pending = make_enterprise(risk="待定", unit="411081")
    plan = _draft_plan()
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert 'id="risk-pending"' in page and "<strong>1</strong> 户企业风险等级为“待定”" in page
    assert f'href="/registry/enterprises/{pending.id}"' in page
    assert f"/plans/{plan.id}/freeze" not in page          # no freeze button while one is 待定
    # The preview counts it in no class.
    assert re.search(r"合计（1 户）", page)

    response = client.post(f"/plans/{plan.id}/freeze", follow_redirects=True)
    assert "风险等级为“待定”，不能冻结名单" in response.get_data(as_text=True)
    assert pending.uscc in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).state == "draft"

    # Classified: the plan freezes with every enterprise in its class.
    db.session.get(Enterprise, pending.id).risk = "低"
    db.session.commit()
    client.post(f"/plans/{plan.id}/freeze")
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan.state == "frozen" and plan.population_count == 2 and plan.class_counts["低"] == 1


def test_county_admin_sees_only_its_own_pending_enterprises(client, auth, make_user, make_enterprise):
    own = make_enterprise(risk="待定", unit="411002")
    other = make_enterprise(risk="待定", unit="411081")
    plan = _draft_plan()
    auth.login_as(make_user("county_admin", "411002"))
    page = client.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "<strong>2</strong> 户企业风险等级为“待定”" in page
    assert own.name in page and other.name not in page and other.uscc not in page


def test_cli_plans_freeze_says_so(runner, make_enterprise):
    pending = make_enterprise(risk="待定")
    plan = _draft_plan("CLI待定")
    result = runner.invoke(args=["plans", "freeze", plan.code])
    assert result.exit_code != 0
    assert "风险等级为“待定”，不能冻结名单" in result.output and pending.uscc in result.output
    db.session.expire_all()
    assert db.session.get(Plan, plan.id).state == "draft"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_risk_template_downloads(client, auth, make_user, fmt):
    auth.login_as(make_user("city_admin"))
    response = client.get(f"/registry/templates/risk.{fmt}")
    assert response.status_code == 200
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        assert [c.value for c in book.worksheets[0][1]] == ["统一社会信用代码*", "风险等级*"]


def test_cli_risk_import(runner, make_enterprise, tmp_path):
    enterprise = make_enterprise(risk="待定")
    path = tmp_path / "风险分级.csv"
    path.write_bytes(risk_csv([[enterprise.uscc, "中"]]))
    result = runner.invoke(args=["enterprises", "import-risk", str(path)])
    assert result.exit_code == 0, result.output
    assert "更新 1" in result.output
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).risk == "中"
