"""Export of the registries in the import's own columns, so export → import round-trips."""
from __future__ import annotations

from sqlalchemy.orm import selectinload

from ..extensions import db
from .fields import ENTERPRISE_FIELDS, EQUIPMENT_FIELDS, OFFICER_FIELDS, show_value
from .importing import KINDS
from .models import Enterprise, Officer
from .services import build_lookups
from .tabular import write_csv, write_xlsx
from .vocab import RISK_CHOICES


def _write(headers, rows, fmt: str, title: str) -> bytes:
    if fmt == "csv":
        return write_csv(headers, rows)
    return write_xlsx(headers, rows, sheet_title=title)


def _rows(objs, specs, lookups, overrides=None):
    for obj in objs:
        row = []
        for spec in specs:
            value = overrides(obj, spec) if overrides else None
            if value is None:
                value = show_value(spec, getattr(obj, spec.key), lookups)
            row.append(value)
        yield row


def enterprises(stmt, fmt: str = "xlsx") -> bytes:
    lookups = build_lookups()
    objs = db.session.scalars(stmt.order_by(Enterprise.uscc)).all()

    def state(obj, spec):
        return obj.shown_licence_state(lookups.today) if spec.key == "licence_state" else None

    return _write([s.header for s in ENTERPRISE_FIELDS], _rows(objs, ENTERPRISE_FIELDS, lookups, state), fmt,
                  "生产企业")


def equipment(stmt, fmt: str = "xlsx") -> bytes:
    objs = db.session.scalars(stmt.options(selectinload(Enterprise.equipment)).order_by(Enterprise.uscc)).all()
    rows = [[e.uscc, item.name, item.model, item.quantity] for e in objs for item in e.equipment]
    return _write([s.header for s in EQUIPMENT_FIELDS], rows, fmt, "关键生产设备")


def officers(stmt, fmt: str = "xlsx") -> bytes:
    lookups = build_lookups()
    objs = db.session.scalars(stmt.order_by(Officer.cert_no)).all()
    return _write([s.header for s in OFFICER_FIELDS], _rows(objs, OFFICER_FIELDS, lookups), fmt, "执法检查人员")


EXAMPLES = {
    "enterprises": ["许昌示例电缆有限公司", "91411002MA44XY312K", "许昌市魏都区示例路1号", "许昌市魏都区示例路1号",
                    "张三", "李四", "0374-1234567", "豫XK06-001-00001", "2022-03-01", "2027-02-28",
                    "电线电缆", "架空绞线；塑料绝缘控制电缆", "魏都区", "中", "正常生产", "有效"],
    "equipment": ["91411002MA44XY312K", "挤塑机", "SJ-90", "2"],
    "officers": ["王五", "豫许执01001", "魏都区", "科员", "13800000000", "2027-12-31", "在岗", ""],
    "risk": ["91411002MA44XY312K", "中高"],
}
NOTES = {
    "enterprises": "统一社会信用代码已登记的企业将被更新（按文件中的列逐项比对，记录每一处变更）；许可状态“过期”由有效期至自动判断。",
    "equipment": "文件中出现的每户企业，其取证时关键生产设备清单将整体替换为文件中的各行。",
    "officers": "执法证号已登记的人员将被更新；在岗状态填写 在岗 或 停用。",
    "risk": f"只更新已登记企业的风险等级（{' / '.join(RISK_CHOICES)}），每处变更记入企业的修改记录；未登记的企业请先导入。",
}
NOTES["enterprises"] += ("也可直接导入生产许可证数据库导出的表格（证书编号、产品名称、发证机关等表头）；"
                         "不含“所属单位”时按生产地址或住所中的区县确定，不含“风险等级”时登记为“待定”。")


def template(kind: str, fmt: str) -> bytes:
    """An import template: the Chinese headers only (an example row could be imported by mistake).

    The .xlsx template has a second sheet 填写说明 with an example value per column.
    """
    specs = KINDS[kind].specs
    headers = [s.header + ("*" if s.required else "") for s in specs]
    if fmt == "csv":
        return write_csv(headers, [])
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = KINDS[kind].label[:30]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.number_format = "@"
    notes = book.create_sheet("填写说明")
    notes.append(["列", "是否必填", "示例"])
    for spec, example in zip(specs, EXAMPLES[kind]):
        notes.append([spec.header, "必填" if spec.required else "选填", example])
    notes.append([])
    notes.append(["说明", NOTES[kind]])
    notes.append(["说明", "带 * 的列为必填；日期格式 2023-07-04；文件中任何一行有错误时整个文件都不会导入。"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
