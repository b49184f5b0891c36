"""Issue 11.15: the web form and the import judge every field with the same rule.

For each field of the enterprise and officer registries, a set of values (valid,
invalid, aliases, text that starts like a spreadsheet formula, too long, empty)
is sent once through the web form and once through the import (a one-row CSV);
both must accept it, or both must refuse it with the same Chinese message.
"""
import csv
import io
import itertools

import pytest
from markupsafe import escape

from xcapp.registry.fields import ENTERPRISE_FIELDS, OFFICER_FIELDS
from xcapp.registry.importing import analyse
from xcapp.registry.validation import make_uscc

FORMULAS = ["=HYPERLINK(\"http://evil.example\")", "@SUM(1+1)", "+cmd", "-", "-1", "=1+1", "—", "/", "-1-1", "+1",
            "@1", "-2.5"]

ENTERPRISE_VALUES = {
    "name": ["许昌新建电缆有限公司", "", "电" * 121, *FORMULAS],
    "uscc": ["", "91411002MA44XY312A", "914110021234", "=91411002MA44XY312K"],
    "address": ["许昌市魏都区示例路1号", "", "+86 许昌", "址" * 201],
    "production_address": ["", "许昌市建安区", "=A1", "-", "—", "/", "--", "-许昌"],
    "legal_rep": ["", "张三", "@张三", "名" * 41],
    "contact": ["", "李四", "-李四"],
    "phone": ["", "0374-1234567", "+8613800000000", "12345", "=13800000000", "（0374）1234567转801"],
    "licence_no": ["", "XK-1", "豫XK06-001-00099", "=豫XK06-001-00099"],
    "issue_date": ["", "2022-03-01", "2022年3月1日", "明年", "2022-02-30", "=TODAY()"],
    "expiry_date": ["2027-02-28", "2020-01-01", ""],
    "category_id": ["电线电缆", "化肥", "家用电器", "", "=电线电缆"],
    "product_scope": ["", "架空绞线", "=cmd|' /C calc'!A0", "范" * 2001, "-", "+0374-1234567"],
    "unit_id": ["411002", "魏都区", "许昌县", "", "=411002"],
    "risk": ["中", "高风险", "high", "极高", "", "@高", "待定", "未分级"],
    "production_state": ["正常生产", "停产", "倒闭", "", "-停产"],
    "licence_state": ["有效", "注销", "过期", "暂停", "", "=有效"],
}

OFFICER_VALUES = {
    "name": ["王玥", "", "=王玥", "名" * 41],
    "cert_no": ["豫许执99001", "", "=1+1", "@A1", "执" * 31],
    "unit_id": ["411002", "禹州市", "火星区", ""],
    "position": ["", "科员", "+科员", "-", "—"],
    "phone": ["", "13800000001", "+86 138 0000 0001", "1380000000"],
    "cert_expiry": ["2029-12-31", "", "明年", "20291231"],
    "status": ["在岗", "停用", "否", "退休", ""],
    "specialty_id": ["", "电线电缆", "家用电器", "=电线电缆"],
}

_serial = itertools.count(1)


def _enterprise_base(n):
    return {"name": f"许昌一致{n}号电缆有限公司", "uscc": make_uscc(f"91411002MA{n:07d}"), "address": "许昌市魏都区示例路1号",
            "production_address": "", "legal_rep": "张三", "contact": "李四", "phone": "0374-1234567",
            "licence_no": f"豫XK06-002-{n:05d}", "issue_date": "2022-03-01", "expiry_date": "2027-02-28",
            "category_id": "电线电缆", "product_scope": "架空绞线", "unit_id": "411002", "risk": "中",
            "production_state": "正常生产", "licence_state": "有效"}


def _officer_base(n):
    return {"name": f"检查员{n}", "cert_no": f"豫许执一致{n:04d}", "unit_id": "411002", "position": "科员",
            "phone": "13800000000", "cert_expiry": "2030-12-31", "status": "在岗", "specialty_id": ""}


def _csv(specs, values) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([spec.header for spec in specs])
    writer.writerow([values[spec.key] for spec in specs])
    return buf.getvalue().encode("utf-8")


def _verdicts(client, kind, key, value):
    specs, base, url = ((ENTERPRISE_FIELDS, _enterprise_base, "/registry/enterprises/new") if kind == "enterprises"
                        else (OFFICER_FIELDS, _officer_base, "/registry/officers/new"))
    header = next(spec.header for spec in specs if spec.key == key)
    values = dict(base(next(_serial)), **{key: value})
    preview = analyse(kind, _csv(specs, values), "one.csv")
    import_messages = [p.message for p in preview.problems if p.column == header]
    other = [p for p in preview.problems if p.column != header]
    assert not other, other           # the base row is valid: only the field under test may fail
    values = dict(base(next(_serial)), **{key: value})
    response = client.post(url, data=values)
    assert response.status_code in (302, 422), response.status_code
    return import_messages, response.status_code, response.get_data(as_text=True)


CASES = [("enterprises", key, value) for key, values in ENTERPRISE_VALUES.items() for value in values] + \
        [("officers", key, value) for key, values in OFFICER_VALUES.items() for value in values]


def test_every_field_has_cases():
    assert set(ENTERPRISE_VALUES) == {spec.key for spec in ENTERPRISE_FIELDS}
    assert set(OFFICER_VALUES) == {spec.key for spec in OFFICER_FIELDS}


@pytest.mark.parametrize("kind", ["enterprises", "officers"])
def test_form_and_import_give_the_same_verdict(client, auth, make_user, kind):
    auth.login_as(make_user("city_admin"))
    disagreements = []
    for case_kind, key, value in CASES:
        if case_kind != kind:
            continue
        import_messages, status, page = _verdicts(client, kind, key, value)
        form_accepts = status == 302
        if form_accepts != (not import_messages):
            disagreements.append((key, value, "form" if form_accepts else "import", import_messages))
        elif import_messages and not any(str(escape(message)) in page for message in import_messages):
            disagreements.append((key, value, "message", import_messages))
    assert not disagreements, disagreements


def test_formula_text_refused_by_form_as_by_import(client, auth, make_user):
    """The case from the issue: a name starting with = was accepted by the form only."""
    auth.login_as(make_user("city_admin"))
    import_messages, status, page = _verdicts(client, "enterprises", "name", "=1+1")
    assert status == 422 and import_messages and str(escape(import_messages[0])) in page


@pytest.mark.parametrize("value, refused", [
    # What a spreadsheet evaluates: refused.
    ("=1+1", True), ("=HYPERLINK(\"x\")", True), ("@SUM(A1)", True), ("@1", True), ("+cmd", True),
    ("-李四", True), ("-1-1", True), ("-1+1", True), ("+0374-1234567", True), ("--", True), ("-", False),
    # Free text meaning "none" and plain signed numbers / phone numbers: accepted.
    ("—", False), ("–", False), ("/", False), ("-1", False), ("+1", False), ("-2.5", False), ("+3%", False),
    ("+86 138 0000 0001", False), ("规格-1", False), ("", False),
])
def test_formula_rule_is_precise(value, refused):
    from xcapp.registry.validation import ValidationError, is_formula, refuse_formula

    assert is_formula(value) is refused
    if refused:
        with pytest.raises(ValidationError):
            refuse_formula(value)
    else:
        assert refuse_formula(value) == value


@pytest.mark.parametrize("model, ok", [("-", True), ("—", True), ("/", True), ("=A1", False), ("-A1", False)])
def test_equipment_model_dash_means_none_in_the_import(make_enterprise, model, ok):
    """规格型号 "-" (none) was refused by the import; a formula still is."""
    enterprise = make_enterprise()
    data = f"统一社会信用代码,设备名称,规格型号,数量\r\n{enterprise.uscc},挤塑机,{model},2\r\n".encode("utf-8")
    preview = analyse("equipment", data, "e.csv")
    assert preview.ok is ok, preview.problems
    if not ok:
        assert [p.column for p in preview.problems] == ["规格型号"]
