"""Field specifications of the registries, shared by the web forms, the import,
the export and the change history, so a rule is written once: the form and the
import give every value the same verdict and message (tests/web/test_one_validation.py).
Text stored as typed may not start like a spreadsheet formula (validation.refuse_formula);
values with a format of their own (phone, codes, dates, choices) are judged by it.

Pure Python: lookups (categories, units) are passed in as a ``Lookups`` object.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from ..core.text import clean_text, normalize_code, normalize_text
from .tabular import Column
from .validation import (ValidationError, parse_date, refuse_formula, validate_licence_no, validate_phone,
                         validate_uscc)
from .vocab import (LICENCE_EXPIRED, LICENCE_STATES_SHOWN, RISK_CHOICES, RISK_PENDING, LicenceState,
                    OfficerStatus, ProductionState, RiskClass)

#: How files spell a risk class (the class itself, its label, older and English names).
RISK_ALIASES = {**{s: RISK_PENDING for s in ("待定", "未定", "未分级", "未定级", "pending")},
                **{s: r.value for r in RiskClass for s in (r.value, r.label)},
                "较高": RiskClass.MIDHIGH.value, "较高风险": RiskClass.MIDHIGH.value,
                "low": RiskClass.LOW.value, "medium": RiskClass.MID.value, "mediumhigh": RiskClass.MIDHIGH.value,
                "medium-high": RiskClass.MIDHIGH.value, "high": RiskClass.HIGH.value}


@dataclass
class Lookups:
    """Names the validators resolve: categories by name, units by code or name."""

    categories: dict[str, int]                 # name -> id
    units: dict[str, int]                      # code, short name, full name -> id
    unit_labels: dict[int, str] = field(default_factory=dict)   # id -> short name
    category_labels: dict[int, str] = field(default_factory=dict)
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool
    parse: Callable[[object, Lookups], object]
    # How the stored value is shown (exports, history).
    show: Callable[[object, Lookups], str] | None = None

    @property
    def column(self) -> Column:
        return Column(self.key, self.header, self.aliases, self.required)


def _text(max_len: int, label: str):
    def parse(value, _lk):
        text = clean_text(value if value is None or isinstance(value, str) else str(value))
        if len(text) > max_len:
            raise ValidationError(f"{label}不能超过 {max_len} 个字")
        return refuse_formula(text)
    return parse


def _required_text(max_len: int, label: str):
    inner = _text(max_len, label)

    def parse(value, lk):
        text = inner(value, lk)
        if not text:
            raise ValidationError(f"{label}不能为空")
        return text
    return parse


def _uscc(value, _lk):
    return validate_uscc(value)


def _licence(value, _lk):
    return validate_licence_no(value)


def _phone(label):
    def parse(value, _lk):
        text = normalize_text(value if value is None or isinstance(value, str) else str(value))
        return validate_phone(text, label) if text else ""
    return parse


def _date(label):
    def parse(value, _lk):
        if value is None or (isinstance(value, str) and not normalize_text(value)):
            raise ValidationError(f"{label}不能为空")
        return parse_date(value, label)
    return parse


def _choice(options: tuple[str, ...], label: str, default: str | None = None, aliases=None):
    def parse(value, _lk):
        text = normalize_text(value if value is None or isinstance(value, str) else str(value))
        if not text:
            if default is not None:
                return default
            raise ValidationError(f"{label}不能为空")
        key = text.replace(" ", "")
        if aliases:
            key = aliases.get(key, aliases.get(key.lower(), key))
        if key not in options:
            raise ValidationError(f"未知的{label}“{text}”：应为 {' / '.join(options)}")
        return key
    return parse


def _category(value, lk: Lookups):
    text = normalize_text(value if value is None or isinstance(value, str) else str(value))
    if not text:
        raise ValidationError("产品类别不能为空")
    if text in lk.categories:
        return lk.categories[text]
    # Compare in normalised form (full-width brackets become half-width), and
    # accept "化肥" or "复肥" for "化肥（复肥）".
    for name, ident in lk.categories.items():
        plain = normalize_text(name)
        if plain == text or plain.split("(")[0] == text or plain.split("(")[-1].rstrip(")") == text:
            return ident
    raise ValidationError(f"未知的产品类别“{text}”：请使用产品类别目录中的名称")


def _optional_category(value, lk: Lookups):
    text = normalize_text(value if value is None or isinstance(value, str) else str(value))
    return _category(text, lk) if text else None


def _unit(value, lk: Lookups):
    text = normalize_text(value if value is None or isinstance(value, str) else str(value))
    if not text:
        raise ValidationError("所属单位不能为空")
    ident = lk.units.get(text) or lk.units.get(normalize_code(text))
    if ident is None:
        raise ValidationError(f"未知单位“{text}”：请填写单位名称（如 魏都区）或代码（如 411002）")
    return ident


def _quantity(value, _lk):
    text = normalize_text(value if value is None or isinstance(value, str) else str(value))
    if not text:
        raise ValidationError("数量不能为空")
    try:
        number = float(text)
    except ValueError:
        raise ValidationError(f"数量应为整数（“{text}”）") from None
    if not number.is_integer() or number < 0 or number > 100000:
        raise ValidationError(f"数量应为 0 到 100000 之间的整数（“{text}”）")
    return int(number)


def _show_date(value, _lk):
    return value.isoformat() if value else ""


def _show_unit(value, lk):
    return lk.unit_labels.get(value, str(value or ""))


def _show_category(value, lk):
    return lk.category_labels.get(value, "") if value else ""


ENTERPRISE_FIELDS: list[FieldSpec] = [
    FieldSpec("name", "企业名称", ("name", "enterprise", "enterprise_name", "company"), True,
              _required_text(120, "企业名称")),
    FieldSpec("uscc", "统一社会信用代码", ("uscc", "credit_code", "social_credit_code", "信用代码"), True, _uscc),
    FieldSpec("address", "住所", ("address", "registered_address", "住址"), True, _required_text(200, "住所")),
    FieldSpec("production_address", "生产地址", ("production_address", "factory_address"), False,
              _text(200, "生产地址")),
    FieldSpec("legal_rep", "法定代表人", ("legal_rep", "legal_representative", "法人代表"), False,
              _text(40, "法定代表人")),
    FieldSpec("contact", "联系人", ("contact", "contact_person"), False, _text(40, "联系人")),
    FieldSpec("phone", "联系电话", ("phone", "tel", "telephone"), False, _phone("联系电话")),
    FieldSpec("licence_no", "生产许可证编号", ("licence_no", "license_no", "licence", "license", "许可证编号",
                                              "证书编号", "许可证号", "证书号"),
              True, _licence),
    FieldSpec("issue_date", "发证日期", ("issue_date", "issued", "取证日期"), True, _date("发证日期"), _show_date),
    FieldSpec("expiry_date", "有效期至", ("expiry_date", "valid_until", "expiry", "有效期截止日期", "证书有效期至"), True, _date("有效期至"),
              _show_date),
    # The licence database names the category 产品名称 (电线电缆, 危险化学品 …).
    FieldSpec("category_id", "产品类别", ("category", "product_category", "产品名称"), True, _category,
              _show_category),
    FieldSpec("product_scope", "产品范围/产品单元", ("product_scope", "products", "产品范围", "产品单元", "产品明细",
                                                                  "产品单元及明细"), False,
              _text(2000, "产品范围")),
    # Optional in an import (issue 13.4): a new enterprise without 所属单位 gets the unit proposed
    # from its address (propose_unit, shown in the preview), without 风险等级 the class 待定.
    FieldSpec("unit_id", "所属单位", ("unit", "unit_code", "所属区域"), False, _unit, _show_unit),
    FieldSpec("risk", "风险等级", ("risk", "risk_class", "风险分级"), False,
              _choice(RISK_CHOICES, "风险等级", aliases=RISK_ALIASES)),
    FieldSpec("production_state", "生产状态", ("production_state", "production_status"), False,
              _choice(tuple(ProductionState), "生产状态", default=ProductionState.NORMAL.value)),
    FieldSpec("licence_state", "许可状态", ("licence_state", "license_state", "licence_status", "许可证状态"), False,
              _choice(LICENCE_STATES_SHOWN, "许可状态", default=LicenceState.VALID.value)),
]

OFFICER_FIELDS: list[FieldSpec] = [
    FieldSpec("name", "姓名", ("name", "officer", "officer_name"), True, _required_text(40, "姓名")),
    FieldSpec("cert_no", "执法证号", ("cert_no", "certificate", "certificate_no", "执法证件号", "执法证号码"), True,
              lambda v, lk: _cert_no(v)),
    FieldSpec("unit_id", "单位", ("unit", "unit_code", "所属单位"), True, _unit, _show_unit),
    FieldSpec("position", "职务", ("position", "title"), False, _text(40, "职务")),
    FieldSpec("phone", "联系电话", ("phone", "tel", "mobile"), False, _phone("联系电话")),
    FieldSpec("cert_expiry", "执法证有效期至", ("cert_expiry", "certificate_expiry", "执法证有效期"), True,
              _date("执法证有效期至"), _show_date),
    FieldSpec("status", "在岗状态", ("status", "active"), False, _choice(tuple(OfficerStatus), "在岗状态",
              default=OfficerStatus.ACTIVE.value,
              aliases={"是": OfficerStatus.ACTIVE.value, "否": OfficerStatus.INACTIVE.value,
                       "active": OfficerStatus.ACTIVE.value, "inactive": OfficerStatus.INACTIVE.value})),
    FieldSpec("specialty_id", "专长产品类别", ("specialty", "专长"), False, _optional_category, _show_category),
]

#: Risk-classification import (issue 13.4): sets the class of enterprises already registered.
RISK_FIELDS: list[FieldSpec] = [
    FieldSpec("uscc", "统一社会信用代码", ("uscc", "credit_code", "social_credit_code", "信用代码"), True, _uscc),
    FieldSpec("risk", "风险等级", ("risk", "risk_class", "风险分级"), True,
              _choice(RISK_CHOICES, "风险等级", aliases=RISK_ALIASES)),
]

#: Columns of the licence database's own export that the registry does not keep: read and
#: ignored without asking (any other unknown header goes through the mapping step).
IGNORED_HEADERS = ("发证机关", "序号", "发证机构", "检验机构", "备注")

EQUIPMENT_FIELDS: list[FieldSpec] = [
    FieldSpec("uscc", "统一社会信用代码", ("uscc", "credit_code", "信用代码"), True, _uscc),
    FieldSpec("name", "设备名称", ("equipment", "equipment_name", "name"), True, _required_text(100, "设备名称")),
    FieldSpec("model", "规格型号", ("model", "spec", "规格", "型号"), False, _text(100, "规格型号")),
    FieldSpec("quantity", "数量", ("quantity", "qty", "取证时数量"), True, _quantity),
]


def propose_unit(texts, lookups: Lookups) -> int | None:
    """The unit whose name (魏都区, 禹州市, 经济技术开发区 …) occurs first in the first of
    ``texts`` (production address, then address) that names one; ``None`` if none does."""
    names = sorted(((name, ident) for ident, name in lookups.unit_labels.items() if name),
                   key=lambda item: -len(item[0]))
    for text in texts:
        text = normalize_text(text)
        if not text:
            continue
        found = [(text.find(name), ident) for name, ident in names if name in text]
        if found:
            return min(found)[1]
    return None


def _cert_no(value) -> str:
    text = normalize_code(value if value is None or isinstance(value, str) else str(value))
    if not text:
        raise ValidationError("执法证号不能为空")
    if len(text) > 30:
        raise ValidationError("执法证号不能超过 30 个字符")
    return refuse_formula(text)


def clean_record(specs: list[FieldSpec], raw: dict, lookups: Lookups) -> tuple[dict, dict[str, str]]:
    """Validate one record. Returns (clean values, {key: Chinese message})."""
    clean, errors = {}, {}
    for spec in specs:
        if spec.key not in raw:
            continue
        try:
            clean[spec.key] = spec.parse(raw[spec.key], lookups)
        except ValidationError as exc:
            errors[spec.key] = exc.message
    return clean, errors


def check_enterprise(clean: dict, errors: dict, lookups: Lookups) -> None:
    """Rules across fields of one enterprise; adds to ``errors``."""
    issue, expiry = clean.get("issue_date"), clean.get("expiry_date")
    if issue and expiry and expiry <= issue:
        errors.setdefault("expiry_date", "有效期至必须晚于发证日期")
    if clean.get("licence_state") == LICENCE_EXPIRED:
        # 过期 is computed from the date; accepted in files only when it agrees.
        if expiry and expiry >= lookups.today:
            errors.setdefault("licence_state", f"许可状态为“过期”，但有效期至 {expiry.isoformat()} 尚未到期")
        else:
            clean["licence_state"] = LicenceState.VALID.value


def show_value(spec: FieldSpec, value, lookups: Lookups) -> str:
    if spec.show is not None:
        return spec.show(value, lookups)
    return "" if value is None else str(value)


def diff(specs: list[FieldSpec], old: dict, new: dict, lookups: Lookups) -> list[tuple[str, str, str]]:
    """[(header, old shown, new shown)] for fields present in ``new`` that differ."""
    changes = []
    for spec in specs:
        if spec.key not in new:
            continue
        before, after = show_value(spec, old.get(spec.key), lookups), show_value(spec, new[spec.key], lookups)
        if before != after:
            changes.append((spec.header, before, after))
    return changes
