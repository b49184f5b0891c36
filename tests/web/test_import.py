"""Import and export of the registries: all-or-nothing, every bad input named in Chinese."""
import csv
import io
import os
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from xcapp.audit.services import verify_chain
from xcapp.extensions import db
from xcapp.registry import exporting
from xcapp.registry.fields import ENTERPRISE_FIELDS
from xcapp.registry.importing import ImportRejected, analyse, apply
from xcapp.registry.models import ChangeRecord, Enterprise, EquipmentRecord, Officer
from xcapp.registry.validation import make_uscc

HEADERS = [s.header for s in ENTERPRISE_FIELDS]


def uscc(n, unit="411002"):
    return make_uscc(f"91{unit}MA{n:07d}")


def row(n, **over):
    values = {
        "企业名称": f"许昌导入{n}号化工有限公司", "统一社会信用代码": uscc(n), "住所": "许昌市魏都区建设路8号",
        "生产地址": "许昌市魏都区建设路8号", "法定代表人": "王喆", "联系人": "刘堃", "联系电话": "13937400000",
        "生产许可证编号": f"豫XK13-014-{n:05d}", "发证日期": "2022-03-01", "有效期至": "2027-02-28",
        "产品类别": "危险化学品", "产品范围/产品单元": "工业硫酸", "所属单位": "魏都区", "风险等级": "高",
        "生产状态": "正常生产", "许可状态": "有效",
    }
    values.update(over)
    return values


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig"):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    for r in rows:
        writer.writerow([r.get(h, "") for h in headers])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, headers=HEADERS):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(headers)
    for r in rows:
        sheet.append([r.get(h, "") for h in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def problems(preview):
    return [(p.row, p.column, p.message) for p in preview.problems]


def assert_rejected(data, filename="e.csv", kind="enterprises", contains=None, column=None, row_no=None):
    before = (count(Enterprise), count(Officer), count(ChangeRecord))
    with pytest.raises(ImportRejected) as info:
        apply(kind, data, filename)
    db.session.rollback()
    assert (count(Enterprise), count(Officer), count(ChangeRecord)) == before, "a rejected import wrote data"
    found = problems(info.value.preview)
    assert found, "no problem reported"
    if contains:
        assert any(contains in msg and (column is None or col == column) and (row_no is None or r == row_no)
                   for r, col, msg in found), found
    return found


def test_valid_csv_imports_everything_with_history_and_audit(app):
    preview = apply("enterprises", csv_bytes([row(1), row(2)]), "e.csv")
    db.session.commit()
    assert preview.summary() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.uscc == uscc(1)))
    assert enterprise.legal_rep == "王喆" and enterprise.unit.code == "411002" and enterprise.risk == "高"
    assert enterprise.issue_date == date(2022, 3, 1)
    created = db.session.scalars(select(ChangeRecord).where(ChangeRecord.object_id == enterprise.id)).all()
    assert {c.action for c in created} == {"导入新建"} and any(c.field == "企业名称" for c in created)
    assert verify_chain().ok


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_detected(app, encoding):
    preview = analyse("enterprises", csv_bytes([row(1)], encoding=encoding), "e.csv")
    assert preview.ok, problems(preview)
    assert preview.creates[0].clean["name"] == "许昌导入1号化工有限公司"


def test_reimport_updates_and_records_field_changes(app):
    apply("enterprises", csv_bytes([row(1), row(2)]), "e.csv")
    db.session.commit()
    preview = apply("enterprises", csv_bytes([row(1, 风险等级="低", 联系电话="0374-7654321"), row(2)]), "e2.csv")
    db.session.commit()
    assert preview.summary() == {"rows": 2, "created": 0, "updated": 1, "unchanged": 1}
    assert count(Enterprise) == 2
    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.uscc == uscc(1)))
    changes = db.session.scalars(select(ChangeRecord).where(ChangeRecord.object_id == enterprise.id,
                                                            ChangeRecord.action == "导入修改")).all()
    assert {(c.field, c.old, c.new) for c in changes} == {("风险等级", "高", "低"),
                                                         ("联系电话", "13937400000", "0374-7654321")}


def test_wrong_check_digit(app):
    bad = uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1")
    assert_rejected(csv_bytes([row(1, 统一社会信用代码=bad)]), contains="校验位错误", column="统一社会信用代码", row_no=2)


def test_duplicate_uscc_and_licence_inside_file(app):
    found = assert_rejected(csv_bytes([row(1), row(2, 统一社会信用代码=uscc(1))]), contains="与第 2 行重复")
    assert any(c == "统一社会信用代码" and r == 3 for r, c, _m in found)
    assert_rejected(csv_bytes([row(1), row(2, 生产许可证编号="豫XK13-014-00001")]), contains="与第 2 行重复",
                    column="生产许可证编号")


def test_licence_number_taken_in_database(app):
    apply("enterprises", csv_bytes([row(1)]), "e.csv")
    db.session.commit()
    assert_rejected(csv_bytes([row(2, 生产许可证编号="豫XK13-014-00001")]), contains="已登记在企业",
                    column="生产许可证编号")


def test_expiry_before_issue(app):
    assert_rejected(csv_bytes([row(1, 有效期至="2021-01-01")]), contains="有效期至必须晚于发证日期", column="有效期至")


@pytest.mark.parametrize("column,value,message", [
    ("所属单位", "许昌县", "未知单位"),
    ("产品类别", "家用电器", "未知的产品类别"),
    ("风险等级", "极高", "未知的风险等级"),
    ("生产状态", "倒闭", "未知的生产状态"),
    ("许可状态", "暂停", "未知的许可状态"),
])
def test_unknown_labels(app, column, value, message):
    assert_rejected(csv_bytes([row(1, **{column: value})]), contains=message, column=column, row_no=2)


@pytest.mark.parametrize("column", ["企业名称", "统一社会信用代码", "住所", "生产许可证编号", "发证日期", "有效期至",
                                    "产品类别", "所属单位", "风险等级"])
def test_empty_required_cell(app, column):
    assert_rejected(csv_bytes([row(1, **{column: ""})]), column=column, row_no=2)


@pytest.mark.parametrize("payload", ['=HYPERLINK("http://evil.example","点我")', "=cmd|' /C calc'!A0", "@SUM(1+1)"])
def test_formula_cells_rejected_in_csv_and_xlsx(app, payload):
    assert_rejected(csv_bytes([row(1, 企业名称=payload)]), column="企业名称")
    assert_rejected(xlsx_bytes([row(1, 企业名称=payload)]), filename="e.xlsx", column="企业名称")


def test_binary_renamed_to_xlsx(app):
    found = assert_rejected(os.urandom(2048), filename="e.xlsx")
    assert "有效的 Excel" in found[0][2]


def test_five_megabyte_random_file(app):
    found = assert_rejected(os.urandom(5 * 1024 * 1024 + 10), filename="big.csv")
    assert "超过" in found[0][2]
    found = assert_rejected(os.urandom(5 * 1024 * 1024 - 10), filename="big.csv")
    assert found[0][0] == 0  # a file-level problem (encoding), not a crash


def test_mixed_encodings(app):
    data = csv_bytes([row(1)], encoding="utf-8") + csv_bytes([row(2)], encoding="gb18030").split(b"\r\n", 1)[1]
    found = assert_rejected(data)
    assert any("编码" in m for _r, _c, m in found)


def test_missing_and_extra_columns(app):
    headers = [h for h in HEADERS if h != "产品类别"]
    found = assert_rejected(csv_bytes([row(1)], headers=headers))
    assert any("缺少必填列" in m and "产品类别" in m for _r, _c, m in found)
    # An unknown column is a problem until the user maps it (or ignores it) in the preview.
    found = assert_rejected(csv_bytes([row(1)], headers=HEADERS + ["经办人"]))
    assert any("未知列" in m and "经办人" in m for _r, _c, m in found)


def test_spaces_and_fullwidth_digits_are_normalised(app):
    full = uscc(1).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    preview = apply("enterprises", csv_bytes([row(1, 统一社会信用代码=f"  {full.lower()} ", 联系电话="１３９３７４０００００",
                                                  企业名称="  许昌导入1号化工有限公司\u3000")]), "e.csv")
    db.session.commit()
    assert preview.ok
    enterprise = db.session.scalar(select(Enterprise))
    assert enterprise.uscc == uscc(1) and enterprise.phone == "13937400000"
    assert enterprise.name == "许昌导入1号化工有限公司"


def test_english_header_aliases_accepted(app):
    english = ["name", "uscc", "address", "production_address", "legal_rep", "contact", "phone", "licence_no",
               "issue_date", "expiry_date", "category", "product_scope", "unit", "risk", "production_state",
               "licence_state"]
    data = csv_bytes([row(1)]).decode("utf-8-sig").split("\r\n", 1)[1]
    preview = analyse("enterprises", (",".join(english) + "\r\n" + data).encode("utf-8"), "e.csv")
    assert preview.ok, problems(preview)


def test_county_admin_can_only_import_own_unit(app, make_user):
    county = make_user("county_admin", "411002")
    preview = analyse("enterprises", csv_bytes([row(1), row(2, 所属单位="禹州市")]), "e.csv", county)
    assert [(p.row, p.column) for p in preview.problems] == [(3, "所属单位")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_import_round_trip(app, fmt, make_enterprise):
    apply("enterprises", csv_bytes([row(1), row(2, 有效期至="2024-01-31", 许可状态="有效"), row(3, 生产状态="停产")]),
          "e.csv")
    apply("officers", ("姓名,执法证号,单位,职务,联系电话,执法证有效期至,在岗状态,专长产品类别\r\n"
                       "王玥,豫许执01001,魏都区,科员,13800000001,2029-12-31,在岗,电线电缆\r\n"
                       "李昇,豫许执01002,禹州市,科长,0374-8123456,2028-06-30,停用,\r\n").encode("utf-8"), "o.csv")
    apply("equipment", ("统一社会信用代码,设备名称,规格型号,数量\r\n"
                        f"{uscc(1)},反应釜,5000L,3\r\n{uscc(1)},精馏塔,Φ1.2m,1\r\n").encode("utf-8"), "q.csv")
    db.session.commit()
    history_before = count(ChangeRecord)
    for kind, data in (("enterprises", exporting.enterprises(select(Enterprise), fmt)),
                       ("officers", exporting.officers(select(Officer), fmt)),
                       ("equipment", exporting.equipment(select(Enterprise), fmt))):
        preview = apply(kind, data, f"x.{fmt}")
        assert preview.ok, problems(preview)
        assert preview.creates == [] and preview.updates == [], (kind, preview.summary())
    db.session.commit()
    assert count(ChangeRecord) == history_before


def test_expired_state_in_export_round_trips(app):
    apply("enterprises", csv_bytes([row(1, 发证日期="2018-01-01", 有效期至="2023-01-01")]), "e.csv")
    db.session.commit()
    data = exporting.enterprises(select(Enterprise), "csv").decode("utf-8-sig")
    assert ",过期" in data
    preview = analyse("enterprises", data.encode("utf-8"), "e.csv")
    assert preview.ok and preview.unchanged == 1
    # 过期 for a licence that has not expired is a contradiction.
    assert_rejected(csv_bytes([row(2, 许可状态="过期")]), contains="尚未到期", column="许可状态")


def test_equipment_import_replaces_list_and_needs_known_enterprise(app):
    apply("enterprises", csv_bytes([row(1)]), "e.csv")
    db.session.commit()
    head = "统一社会信用代码,设备名称,规格型号,数量\r\n"
    apply("equipment", (head + f"{uscc(1)},反应釜,5000L,3\r\n").encode(), "q.csv")
    apply("equipment", (head + f"{uscc(1)},精馏塔,Φ1.2m,1\r\n{uscc(1)},储罐,50m³,4\r\n").encode(), "q.csv")
    db.session.commit()
    names = db.session.scalars(select(EquipmentRecord.name).order_by(EquipmentRecord.position)).all()
    assert names == ["精馏塔", "储罐"]
    assert_rejected((head + f"{uscc(9)},反应釜,5000L,3\r\n").encode(), kind="equipment", contains="未登记")
    assert_rejected((head + f"{uscc(1)},反应釜,5000L,三\r\n").encode(), kind="equipment", contains="数量应为整数")


def test_officer_import_errors(app):
    head = "姓名,执法证号,单位,执法证有效期至\r\n"
    assert_rejected((head + "王五,豫许执01001,魏都区,2029-12-31\r\n赵六,豫许执01001,魏都区,2029-12-31\r\n").encode(),
                    kind="officers", contains="重复", column="执法证号")
    assert_rejected((head + "王五,豫许执01001,火星区,2029-12-31\r\n").encode(), kind="officers", contains="未知单位")
    assert_rejected((head + "王五,豫许执01001,魏都区,明年\r\n").encode(), kind="officers", column="执法证有效期至")


def test_header_only_and_empty_files(app):
    assert_rejected(csv_bytes([]))
    assert_rejected(b"", filename="e.csv")
    assert_rejected(b"a,b", filename="e.xls")
