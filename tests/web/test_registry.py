"""Registry pages: lists with active search, forms with inline errors, history, scoping, CLI."""
from datetime import date, timedelta

from sqlalchemy import func, select

from xcapp.audit.models import AuditLog
from xcapp.extensions import db
from xcapp.registry.models import ChangeRecord, Enterprise, Officer, Recusal


def form_data(enterprise=None, **over):
    data = {"name": "许昌新建电缆有限公司", "uscc": "91411002MA44XY312K", "address": "许昌市魏都区示例路1号",
            "production_address": "", "legal_rep": "张三", "contact": "李四", "phone": "0374-1234567",
            "licence_no": "豫XK06-001-00099", "issue_date": "2022-03-01", "expiry_date": "2027-02-28",
            "category_id": "", "product_scope": "架空绞线", "unit_id": "", "risk": "中",
            "production_state": "正常生产", "licence_state": "有效"}
    data.update(over)
    return data


def _ids():
    """Form values of 魏都区 and 电线电缆 (the selects carry codes and names)."""
    return "411002", "电线电缆"


def test_create_enterprise_and_history(client, auth, make_user):
    auth.login_as(make_user("county_admin", "411002"))
    unit_id, category_id = _ids()
    response = client.post("/registry/enterprises/new", data=form_data(unit_id=unit_id, category_id=category_id))
    assert response.status_code == 302, response.get_data(as_text=True)
    enterprise = db.session.scalar(select(Enterprise))
    assert enterprise.name == "许昌新建电缆有限公司" and enterprise.unit.code == "411002"
    page = client.get(f"/registry/enterprises/{enterprise.id}").get_data(as_text=True)
    assert "变更记录" in page and "新建" in page and "91411002MA44XY312K" in page
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "enterprise.created"))


def test_form_errors_inline_and_nothing_written(client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    unit_id, category_id = _ids()
    response = client.post("/registry/enterprises/new", data=form_data(
        unit_id=unit_id, category_id=category_id, uscc="91411002MA44XY312A", expiry_date="2020-01-01",
        phone="12345", licence_no="XK-1"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "校验位错误" in page and "有效期至必须晚于发证日期" in page and "生产许可证编号格式" in page
    assert 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_county_admin_cannot_create_in_other_unit(client, auth, make_user):
    auth.login_as(make_user("county_admin", "411002"))
    _unit, category_id = _ids()
    response = client.post("/registry/enterprises/new", data=form_data(unit_id="411081", category_id=category_id))
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0


def test_edit_records_old_and_new_values(client, auth, make_user, make_enterprise):
    enterprise = make_enterprise(risk="中")
    auth.login_as(make_user("city_admin"))
    page = client.get(f"/registry/enterprises/{enterprise.id}/edit")
    assert page.status_code == 200
    unit_id, category_id = _ids()
    data = form_data(name=enterprise.name, uscc=enterprise.uscc, licence_no=enterprise.licence_no, unit_id=unit_id,
                     category_id=category_id, issue_date=enterprise.issue_date.isoformat(),
                     expiry_date=enterprise.expiry_date.isoformat(), risk="高",
                     legal_rep="张三", contact="李四", address="许昌市测试路1号", product_scope="电线电缆")
    assert client.post(f"/registry/enterprises/{enterprise.id}/edit", data=data).status_code == 302
    changes = db.session.scalars(select(ChangeRecord).where(ChangeRecord.object_id == enterprise.id,
                                                            ChangeRecord.action == "修改")).all()
    assert ("风险等级", "中", "高") in {(c.field, c.old, c.new) for c in changes}
    # A status-only change is labelled as such.
    data.update(risk="高", production_state="停产")
    client.post(f"/registry/enterprises/{enterprise.id}/edit", data=data)
    assert db.session.scalar(select(ChangeRecord).where(ChangeRecord.action == "状态变更")).new == "停产"


def test_list_active_search_and_filters(client, auth, make_user, make_enterprise):
    make_enterprise(name="许昌宏达电缆有限公司", risk="高")
    make_enterprise(name="禹州恒通水泥有限公司", unit="411081", risk="低")
    target = make_enterprise(name="许昌鑫源化工有限公司", risk="中高")
    auth.login_as(make_user("city_admin"))
    full = client.get("/registry/enterprises?q=宏达")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    fragment = client.get("/registry/enterprises?q=宏达", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "许昌宏达电缆" in fragment and "禹州恒通" not in fragment
    assert "共 1 户" in fragment
    by_code = client.get(f"/registry/enterprises?q={target.uscc[-6:].lower()}", headers={"HX-Request": "true"})
    assert "许昌鑫源化工" in by_code.get_data(as_text=True)
    by_unit = client.get("/registry/enterprises?unit=411081", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "禹州恒通" in by_unit and "许昌宏达" not in by_unit
    by_risk = client.get("/registry/enterprises?risk=中高", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "共 1 户" in by_risk
    # A LIKE wildcard typed by the user is a literal.
    assert "共 0 户" in client.get("/registry/enterprises?q=%", headers={"HX-Request": "true"}).get_data(as_text=True)


def test_county_list_is_scoped(client, auth, make_user, make_enterprise):
    make_enterprise(name="许昌宏达电缆有限公司")
    other = make_enterprise(name="禹州恒通水泥有限公司", unit="411081")
    auth.login_as(make_user("county_admin", "411002"))
    page = client.get("/registry/enterprises").get_data(as_text=True)
    assert "许昌宏达" in page and "禹州恒通" not in page
    assert client.get(f"/registry/enterprises/{other.id}").status_code == 404
    export = client.get("/registry/enterprises/export?format=csv").get_data().decode("utf-8-sig")
    assert "许昌宏达" in export and "禹州恒通" not in export


def test_expiry_warnings(client, auth, make_user, make_enterprise):
    today = date.today()
    make_enterprise(name="许昌过期企业有限公司", issue_date=today - timedelta(days=2000), expiry_date=today - timedelta(days=3))
    soon = make_enterprise(name="许昌将到期企业有限公司", issue_date=today - timedelta(days=1700),
                           expiry_date=today + timedelta(days=30))
    make_enterprise(name="许昌正常企业有限公司")
    auth.login_as(make_user("city_admin"))
    expired = client.get("/registry/enterprises?expiry=expired", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "许昌过期企业" in expired and "许可证已过期" in expired and "将到期" not in expired
    coming = client.get("/registry/enterprises?expiry=soon", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "许昌将到期企业" in coming and "许昌正常企业" not in coming
    detail = client.get(f"/registry/enterprises/{soon.id}").get_data(as_text=True)
    assert "90 天内" in detail
    state = client.get("/registry/enterprises?licence_state=过期", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "共 1 户" in state


def test_officer_phone_visible_to_admins_only(client, auth, make_user, make_officer):
    officer = make_officer(phone="13912345678")
    auth.login_as(make_user("readonly"))
    assert "13912345678" not in client.get("/registry/officers").get_data(as_text=True)
    assert "13912345678" not in client.get(f"/registry/officers/{officer.id}").get_data(as_text=True)
    assert client.get("/registry/officers/export").status_code == 403
    auth.login_as(make_user("county_admin", "411002"))
    assert "13912345678" in client.get("/registry/officers").get_data(as_text=True)


def test_officer_search_by_name_or_certificate(client, auth, make_user, make_officer):
    make_officer(name="王喆", cert_no="豫许执02011")
    make_officer(name="李玥", cert_no="豫许执02012")
    auth.login_as(make_user("city_admin"))
    by_name = client.get("/registry/officers?q=喆", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "王喆" in by_name and "李玥" not in by_name
    by_cert = client.get("/registry/officers?q=02012", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "李玥" in by_cert and "王喆" not in by_cert


def test_duplicate_certificate_refused(client, auth, make_user, make_officer):
    make_officer(cert_no="豫许执02011")
    auth.login_as(make_user("city_admin"))
    response = client.post("/registry/officers/new", data={
        "name": "赵六", "cert_no": "豫许执02011", "unit_id": "411002", "position": "", "phone": "",
        "cert_expiry": "2030-01-01", "status": "在岗", "specialty_id": ""})
    assert response.status_code == 422 and "执法证号 豫许执02011 已登记（另一名人员）" in response.get_data(as_text=True)


def test_uscc_and_licence_number_of_another_enterprise_refused(client, auth, make_user):
    auth.login_as(make_user("county_admin", "411002"))
    unit_id, category_id = _ids()
    assert client.post("/registry/enterprises/new", data=form_data(unit_id=unit_id, category_id=category_id)) \
        .status_code == 302
    page = client.post("/registry/enterprises/new", data=form_data(
        unit_id=unit_id, category_id=category_id, name="许昌另一家电缆有限公司")).get_data(as_text=True)
    assert "统一社会信用代码 91411002MA44XY312K 已登记（另一户企业）" in page
    assert "生产许可证编号 豫XK06-001-00099 已被另一户企业使用" in page
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 1
    # Its own values are no conflict when it is edited.
    enterprise = db.session.scalar(select(Enterprise))
    response = client.post(f"/registry/enterprises/{enterprise.id}/edit", data=form_data(
        unit_id=unit_id, category_id=category_id, contact="王五"))
    assert response.status_code == 302, response.get_data(as_text=True)


def test_recusal_listed_on_both_pages_and_withdrawn(client, auth, make_user, make_enterprise, make_officer):
    enterprise, officer = make_enterprise(), make_officer(name="孙堃")
    auth.login_as(make_user("county_admin", "411002"))
    response = client.post("/registry/recusals", data={"enterprise": enterprise.uscc, "officer_id": officer.id,
                                                       "reason": "配偶在该企业任职"})
    assert response.status_code == 302
    assert "配偶在该企业任职" in client.get(f"/registry/enterprises/{enterprise.id}").get_data(as_text=True)
    assert "配偶在该企业任职" in client.get(f"/registry/officers/{officer.id}").get_data(as_text=True)
    # Twice is refused, without a reason is refused.
    client.post("/registry/recusals", data={"enterprise": enterprise.uscc, "officer_id": officer.id, "reason": "x"})
    assert db.session.scalar(select(func.count()).select_from(Recusal)) == 1
    recusal = db.session.scalar(select(Recusal))
    assert client.post(f"/registry/recusals/{recusal.id}/withdraw").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Recusal)) == 0
    assert db.session.scalar(select(ChangeRecord).where(ChangeRecord.action == "撤回回避"))


def test_equipment_htmx_add_and_delete(client, auth, make_user, make_enterprise):
    enterprise = make_enterprise()
    auth.login_as(make_user("county_admin", "411002"))
    url = f"/registry/enterprises/{enterprise.id}/equipment"
    ok = client.post(url, data={"name": "挤塑机", "model": "SJ-90", "quantity": "2"}, headers={"HX-Request": "true"})
    body = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "<html" not in body and "挤塑机" in body
    bad = client.post(url, data={"name": "", "model": "", "quantity": "两台"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "设备名称不能为空" in bad.get_data(as_text=True)
    db.session.refresh(enterprise)
    assert [e.name for e in enterprise.equipment] == ["挤塑机"]
    row_id = enterprise.equipment[0].id
    deleted = client.post(f"{url}/{row_id}/delete", headers={"HX-Request": "true"})
    assert deleted.status_code == 200
    db.session.expire_all()
    assert db.session.get(Enterprise, enterprise.id).equipment == []


def test_categories_editable_by_city_admin(client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    assert client.post("/registry/categories", data={"name": "电动自行车"}).status_code == 302
    assert "电动自行车" in client.get("/registry/categories").get_data(as_text=True)
    assert client.post("/registry/categories", data={"name": "电动自行车"}).status_code == 422


def test_link_officer_account(client, auth, make_user, make_officer):
    officer = make_officer()
    inspector = make_user("inspector", "411002", username="jc_link")
    foreign = make_user("inspector", "411081", username="jc_foreign")
    auth.login_as(make_user("county_admin", "411002"))
    client.post(f"/registry/officers/{officer.id}/account", data={"username": "jc_foreign"})
    db.session.refresh(officer)
    assert officer.user_id is None
    client.post(f"/registry/officers/{officer.id}/account", data={"username": "jc_link"})
    db.session.refresh(officer)
    assert officer.user_id == inspector.id and foreign.id != inspector.id
    # The inspector sees their own record, and no one else's.
    other = make_officer()
    auth.login_as(inspector)
    assert client.get(f"/registry/officers/{officer.id}").status_code == 200
    assert client.get(f"/registry/officers/{other.id}").status_code == 404


def test_web_import_preview_then_apply_once(client, auth, make_user):
    from tests.web.test_import import csv_bytes, row

    auth.login_as(make_user("county_admin", "411002"))
    data = csv_bytes([row(1), row(2)])
    preview = client.post("/registry/import", data={"kind": "enterprises", "file": (__import__("io").BytesIO(data), "e.csv")},
                          content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "将新增 <strong>2</strong> 条" in page
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
    import re

    action = re.search(r'action="(/registry/import/\d+/apply)"', page).group(1)
    assert client.post(action).status_code == 302
    assert client.post(action).status_code == 302  # double click / retry
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 2
    assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import.applied")) == 1


def test_web_import_with_errors_shows_row_column_message(client, auth, make_user):
    from tests.web.test_import import csv_bytes, row

    auth.login_as(make_user("city_admin"))
    data = csv_bytes([row(1), row(2, 风险等级="极高")])
    response = client.post("/registry/import", data={"kind": "enterprises", "file": (__import__("io").BytesIO(data), "e.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<td>3</td><td>风险等级</td>" in page and "未知的风险等级" in page and "确认导入" not in page


def test_templates_download(client, auth, make_user):
    import io

    import openpyxl

    auth.login_as(make_user("county_admin", "411002"))
    response = client.get("/registry/templates/enterprises.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[0] == "企业名称*" and "产品类别*" in headers and "生产地址" in headers
    # Optional in an import since issue 13.4 (unit proposed from the address, risk 待定).
    assert "风险等级" in headers and "所属单位" in headers
    assert book.worksheets[0].max_row == 1  # no example row that could be imported by mistake
    csv = client.get("/registry/templates/officers.csv").data
    assert csv.startswith(b"\xef\xbb\xbf") and "执法证号*".encode() in csv


def test_cli_import_export(runner, tmp_path):
    from tests.web.test_import import csv_bytes, row

    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([row(1), row(2)]))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([row(3), row(4, 发证日期="2030-01-01")]))
    dry = runner.invoke(args=["enterprises", "import", str(good), "--dry-run"])
    assert dry.exit_code == 0 and "检查通过" in dry.output
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
    failed = runner.invoke(args=["enterprises", "import", str(bad)])
    assert failed.exit_code != 0 and "第 3 行" in failed.output and "未写入" in failed.output
    assert db.session.scalar(select(func.count()).select_from(Enterprise)) == 0
    done = runner.invoke(args=["enterprises", "import", str(good)])
    assert done.exit_code == 0 and "新增 2" in done.output
    out = tmp_path / "out.xlsx"
    assert runner.invoke(args=["enterprises", "export", str(out)]).exit_code == 0
    again = runner.invoke(args=["enterprises", "import", str(out)])
    assert again.exit_code == 0 and "未变化 2" in again.output
    officers = tmp_path / "o.csv"
    assert runner.invoke(args=["officers", "export", str(officers)]).exit_code == 0
    assert officers.read_bytes().startswith(b"\xef\xbb\xbf")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Officer)) == 0
