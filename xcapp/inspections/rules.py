"""The 双随机一公开 监督检查表 (12-item checklist) and its rules.

Pure module: no Flask, no database.  Source: the attachment ("双随机一公开"监督检查表)
of the 2023 Xuchang implementation plan and its two notes, kept verbatim as test data
in ``tests/data/form_2023_xuchang.txt``.

Codes and labels
----------------
Everything that is stored uses a stable ASCII *code*; the Chinese *label* is for
display only (labels may be renamed, codes never change).

* Item conclusions (单项检查结论): ``CONFORM`` 符合, ``NONCONFORM`` 不符合,
  ``NOT_APPLICABLE`` 不适用 (``CONCLUSION_LABELS``).  Only items 4, 5, 9, 10 and
  item 12's free rows allow 不适用.
* Overall conclusion (检查结论): ``PASS`` 合格, ``FAIL`` 不合格 (``OVERALL_LABELS``).
* Record options (检查记录): ``RecordOption.code``, unique within an item.

Answers
-------
``answers`` is a mapping ``item_no -> answer`` where an answer is an ``AnswerValue``,
a ``(record, conclusion)`` tuple, a mapping with keys ``record`` (or
``record_code``) and ``conclusion``, or any object with those attributes.
``record`` is one option code, or for item 11 possibly several nested codes
(an iterable, or one string joined with commas: ``"has_altered,has_other"``).

Nested options (items 10 and 11): the parent 有 is not selectable on its own; the
officer picks a nested option (已处理 / 未处理, 涂改转让 / 生产假冒伪劣 / 其他违法行为),
which implies 有.  Item 11 allows several of its violations at once; item 10 does not.
Giving the parent code together with nested codes is accepted (the parent is implied).

Decisions (documented here because the form does not say)
----------------------------------------------------------
* The record only *proposes* a conclusion (``proposed_conclusion``); the officer
  decides.  A conclusion that contradicts the record (e.g. 不在有效期 with 符合) is
  valid for ``validate_answer``; but a record option that implies non-conformity
  with 符合 or 不适用 needs a remark explaining why, otherwise ``contradiction``
  reports it as an error (issue 11.16).
* The proposal follows the record unless the officer chose the conclusion
  explicitly (``next_conclusion``): a conclusion that equals what the old record
  proposed was not a choice, so 存在 → 不存在 turns the proposed 不符合 into 符合.
* ``validate_answer`` reports invalid values only.  A missing conclusion is not an
  error (the answer is merely incomplete).
* An item 1-11 is complete when its answer is valid, has a conclusion, and has a
  record unless the conclusion is 不适用.
* Item 12 (其他需要检查的项目) holds free rows ``(项目, 检查记录, 结论)``.  It counts as
  filled when it has at least one row and every row has a 项目 and a conclusion, or,
  with no rows, when ``answers[12]`` carries the record ``NO_EXTRA_ITEMS``
  (无其他检查项目).  Rows and that marker together are a validation error.
* ``overall_conclusion`` (note 2: 合格 exactly when no item is 不符合, item 12 rows
  included) returns ``None`` while the form is incomplete, unless
  ``early_fail=True`` in which case a recorded 不符合 already yields ``FAIL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# ---------------------------------------------------------------------------
# Conclusions
# ---------------------------------------------------------------------------

CONFORM = "conform"
NONCONFORM = "nonconform"
NOT_APPLICABLE = "na"

CONCLUSIONS: tuple[str, ...] = (CONFORM, NONCONFORM, NOT_APPLICABLE)
CONCLUSION_LABELS: dict[str, str] = {
    CONFORM: "符合",
    NONCONFORM: "不符合",
    NOT_APPLICABLE: "不适用",
}

PASS = "pass"
FAIL = "fail"
OVERALL_LABELS: dict[str, str] = {PASS: "合格", FAIL: "不合格"}

TOTAL_ITEMS = 12
EXTRA_ITEM_NO = 12

# The two notes under the form, verbatim.
NOTE_1 = "其他需要检查的项目为企业需持续保持获证条件，满足相关产品生产许可证实施细则要求的内容等。（可在现场检查发现的问题汇总栏填写。）"
NOTE_2 = "检查结论判定原则：未发现不符合项，检查结论为合格；否则检查结论为不合格。"


@dataclass(frozen=True)
class Choice:
    """A stable code with a display label."""

    code: str
    label: str


@dataclass(frozen=True)
class RecordOption:
    """One 检查记录 checkbox of an item.

    ``nonconform``: choosing it proposes 不符合.  ``parent``: code of the parent
    option (有) for nested options.  ``selectable``: False for a parent that needs a
    nested choice.
    """

    code: str
    label: str
    nonconform: bool = False
    parent: str | None = None
    selectable: bool = True


@dataclass(frozen=True)
class ItemDef:
    no: int
    text: str  # 检查项目, verbatim from the form
    short: str  # short wording for summaries
    options: tuple[RecordOption, ...]
    conclusions: tuple[str, ...]
    multi_select: bool = False  # several nested options of one parent together

    @property
    def allows_na(self) -> bool:
        return NOT_APPLICABLE in self.conclusions

    def option(self, code: str) -> RecordOption | None:
        for opt in self.options:
            if opt.code == code:
                return opt
        return None

    def children(self, parent_code: str) -> tuple[RecordOption, ...]:
        return tuple(o for o in self.options if o.parent == parent_code)

    @property
    def leaf_options(self) -> tuple[RecordOption, ...]:
        return tuple(o for o in self.options if o.selectable)


_CN = (CONFORM, NONCONFORM)
_CNA = (CONFORM, NONCONFORM, NOT_APPLICABLE)


def _o(code: str, label: str, nonconform: bool = False, parent: str | None = None,
       selectable: bool = True) -> RecordOption:
    return RecordOption(code, label, nonconform, parent, selectable)


ITEMS: dict[int, ItemDef] = {
    item.no: item
    for item in (
        ItemDef(
            1,
            "营业执照是否有效，生产许可证是否在有效期内",
            "营业执照、生产许可证有效性",
            (_o("valid", "在有效期"), _o("expired", "不在有效期", True)),
            _CN,
        ),
        ItemDef(
            2,
            "企业的生产条件与取证时相比是否发生重大变化（包括生产地址、产能、重要生产工艺和技术、关键生产设备和检验设备等与获证时相比是否发生变化），是否有在变化事项发生后1个月内向生产许可管理部门申请重新审查",
            "生产条件变化及重新审查",
            (
                _o("unchanged", "未发生变化"),
                _o("changed_reviewed", "发生变化已重新审查"),
                _o("changed_not_applied", "发生变化未申请重新审查", True),
            ),
            _CN,
        ),
        ItemDef(
            3,
            "是否存在超许可证范围生产产品的行为",
            "超许可证范围生产",
            (_o("exists", "存在", True), _o("not_exists", "不存在")),
            _CN,
        ),
        ItemDef(
            4,
            "是否按照规定要求在产品包装上标注生产许可证编号和标志",
            "生产许可证编号和标志标注",
            (_o("marked", "已标注"), _o("not_marked", "未标注", True)),
            _CNA,
        ),
        ItemDef(
            5,
            "执行的产品标准是否现行有效，并按要求在企业产品标准信息公共服务平台向社会公开",
            "执行产品标准有效性及公开",
            (_o("valid", "有效"), _o("invalid", "无效", True)),
            _CNA,
        ),
        ItemDef(
            6,
            "是否对出厂产品进行检验并记录存档",
            "出厂检验及记录存档",
            (
                _o("tested_archived", "进行检验并存档"),
                _o("not_tested", "未进行检验", True),
                _o("records_incomplete", "检验记录不全", True),
            ),
            _CN,
        ),
        ItemDef(
            7,
            "是否建立原材料进货台帐、对原材料进行检验并记录；如原材料属于许可证管理的，是否能提供相关许可证证明材料",
            "原材料进货台帐及检验",
            (
                _o("established_executed", "已建立并执行"),
                _o("established_not_executed", "已建立未执行", True),
                _o("not_established", "未建立", True),
            ),
            _CN,
        ),
        ItemDef(
            8,
            "使用的计量器具是否按规定检定并在检定有效期内",
            "计量器具检定",
            (_o("yes", "是"), _o("no", "否", True)),
            _CN,
        ),
        ItemDef(
            9,
            "是否符合国家产业政策规定（如有），不存在国家明令淘汰的落后工艺和设备",
            "国家产业政策符合性",
            (_o("conform", "符合"), _o("nonconform", "不符合", True)),
            _CNA,
        ),
        ItemDef(
            10,
            "对上次日常巡查中发现有问题的，是否整改完成并记录整改情况",
            "上次日常巡查问题整改",
            (
                _o("has", "有", selectable=False),
                _o("has_handled", "已处理", parent="has"),
                _o("has_unhandled", "未处理", True, parent="has"),
                _o("none", "无"),
            ),
            _CNA,
        ),
        ItemDef(
            11,
            "是否存在其它违反生产许可相关法律法规规章及规定的情形",
            "其他违反生产许可规定的情形",
            (
                _o("has", "有", selectable=False),
                _o("has_altered", "涂改转让", True, parent="has"),
                _o("has_counterfeit", "生产假冒伪劣", True, parent="has"),
                _o("has_other", "其他违法行为", True, parent="has"),
                _o("none", "无"),
            ),
            _CN,
            multi_select=True,
        ),
    )
}

FIXED_ITEM_NOS: tuple[int, ...] = tuple(sorted(ITEMS))  # 1..11

# Item 12: free rows.  Its only "record" is the explicit marker below.
NO_EXTRA_ITEMS = "none"
NO_EXTRA_ITEMS_LABEL = "无其他检查项目"
ITEM_12 = ItemDef(
    12,
    "其他需要检查的项目。",
    "其他需要检查的项目",
    (_o(NO_EXTRA_ITEMS, NO_EXTRA_ITEMS_LABEL),),
    _CNA,
)

ALL_ITEMS: dict[int, ItemDef] = {**ITEMS, 12: ITEM_12}


def _item_any(item_no: int) -> ItemDef:
    """ItemDef of items 1-12; ValueError otherwise."""
    try:
        return ALL_ITEMS[int(item_no)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"检查项目序号无效：{item_no}") from None


def get_item(item_no: int) -> ItemDef:
    """ItemDef of a fixed item 1-11; ValueError otherwise."""
    try:
        return ITEMS[int(item_no)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"检查项目序号无效：{item_no}") from None


# ---------------------------------------------------------------------------
# Input coercion
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerValue:
    """The values of one answer the rules judge (models.Answer stores them)."""

    record: str | tuple[str, ...] | None = None
    conclusion: str | None = None


@dataclass(frozen=True)
class ExtraRowValue:
    """One row of item 12: 项目, 检查记录, 结论 (and a remark); models.ExtraRow stores them."""

    project: str = ""
    record: str = ""
    conclusion: str | None = None
    remark: str = ""


_MISSING = object()


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        else:
            value = getattr(obj, name, _MISSING)
            if value is not _MISSING:
                return value
    return default


def _answer_parts(answer: Any) -> tuple[Any, Any]:
    if answer is None:
        return None, None
    if isinstance(answer, tuple) and len(answer) == 2:
        return answer[0], answer[1]
    return (_field(answer, "record", "record_code", "record_codes"),
            _field(answer, "conclusion"))


def _row_parts(row: Any) -> tuple[str, str, Any, str]:
    project = _field(row, "project", "item", "name", default="") or ""
    record = _field(row, "record", "record_text", default="") or ""
    conclusion = _field(row, "conclusion")
    remark = _field(row, "remark", default="") or ""
    return str(project).strip(), str(record).strip(), conclusion or None, str(remark).strip()


def normalize_record(item_no: int, record: Any) -> tuple[str, ...]:
    """Split a record into option codes (definition order, duplicates and an
    implied parent dropped; unknown codes kept at the end).  No validation."""
    key = "" if record is None else record if isinstance(record, str) else tuple(str(p) for p in record)
    return (_normalize if _cacheable(key) else _normalize.__wrapped__)(item_no, key)


# The record's status is computed for every item on every save: records and answers are
# parsed and checked once per process. Only input of a real record's size is kept (a
# hostile request's megabyte of codes is checked, and refused, without being cached).
_CACHED_CHARS = 200


def _cacheable(*values) -> bool:
    size = 0
    for value in values:
        if isinstance(value, tuple):
            if len(value) > 20:
                return False
            size += sum(len(v) for v in value)
        elif value is not None:
            size += len(value)
    return size <= _CACHED_CHARS


@lru_cache(maxsize=4096)
def _normalize(item_no: int, record: str | tuple[str, ...]) -> tuple[str, ...]:
    item = _item_any(item_no)
    raw = [p.strip() for p in (record.split(",") if isinstance(record, str) else record)]
    codes = [c for c in dict.fromkeys(raw) if c]
    # a parent given together with its nested options is implied by them
    parents_with_children = {item.option(c).parent for c in codes
                             if item.option(c) is not None and item.option(c).parent}
    codes = [c for c in codes if c not in parents_with_children]
    order = {o.code: i for i, o in enumerate(item.options)}
    return tuple(sorted(codes, key=lambda c: order.get(c, len(order))))


def record_to_str(codes: Iterable[str]) -> str:
    """Storage form of a record: codes joined with commas."""
    return ",".join(codes)


def record_label(item_no: int, record: Any) -> str:
    """Display text of a record, e.g. ``有（未处理）`` or ``有（涂改转让、其他违法行为）``."""
    item = _item_any(item_no)
    codes = normalize_record(item_no, record)
    groups: dict[str, list[str]] = {}
    plain: list[str] = []
    for code in codes:
        opt = item.option(code)
        if opt is None:
            plain.append(code)
        elif opt.parent:
            groups.setdefault(opt.parent, []).append(opt.label)
        else:
            plain.append(opt.label)
    parts = [f"{item.option(p).label}（{'、'.join(labels)}）" for p, labels in groups.items()]
    return "、".join(parts + plain)


# ---------------------------------------------------------------------------
# Validation and proposals
# ---------------------------------------------------------------------------


def _record_errors(item: ItemDef, codes: tuple[str, ...]) -> list[str]:
    n = item.no
    errors = []
    unknown = [c for c in codes if item.option(c) is None]
    if unknown:
        return [f"第{n}项：检查记录选项无效：{'、'.join(unknown)}"]
    opts = [item.option(c) for c in codes]
    for opt in opts:
        if not opt.selectable:
            kids = "/".join(k.label for k in item.children(opt.code))
            errors.append(f"第{n}项：请选择“{opt.label}”的具体情形（{kids}）")
    if len(opts) > 1:
        parents = {o.parent for o in opts}
        if not item.multi_select:
            errors.append(f"第{n}项：检查记录只能选择一项")
        elif None in parents or len(parents) > 1:
            errors.append(f"第{n}项：检查记录选项不能同时选择：{record_label(n, codes)}")
    return errors


def validate_answer(item_no: int, record: Any, conclusion: str | None) -> list[str]:
    """Errors (Chinese) for an answer to a fixed item 1-11; [] when valid.

    Invalid: unknown item, unknown record option, a parent 有 without a nested
    option, several options where the item allows one, an unknown conclusion,
    不适用 on an item that does not allow it.  Missing record or conclusion is not
    an error (incomplete answers may be saved).
    """
    try:
        get_item(item_no)
    except ValueError as exc:
        return [str(exc)]
    codes = normalize_record(item_no, record)
    check = _answer_errors if _cacheable(codes, conclusion) else _answer_errors.__wrapped__
    return list(check(item_no, codes, conclusion))


@lru_cache(maxsize=4096)
def _answer_errors(item_no: int, codes: tuple[str, ...], conclusion: str | None) -> tuple[str, ...]:
    item = get_item(item_no)
    errors = _record_errors(item, codes)
    if conclusion is not None and conclusion != "":
        if conclusion not in CONCLUSIONS:
            errors.append(f"第{item.no}项：单项检查结论无效：{conclusion}")
        elif conclusion not in item.conclusions:
            errors.append(f"第{item.no}项不能选择“{CONCLUSION_LABELS[conclusion]}”")
    return tuple(errors)


def proposed_conclusion(item_no: int, record: Any) -> str | None:
    """Conclusion suggested by the record: NONCONFORM if any chosen option implies
    non-conformity, else CONFORM; None when the record is empty or invalid.
    ValueError for an item number outside 1-11."""
    item = get_item(item_no)
    codes = normalize_record(item_no, record)
    if not codes or _record_errors(item, codes):
        return None
    return NONCONFORM if any(item.option(c).nonconform for c in codes) else CONFORM


def next_conclusion(item_no: int, old_record: Any, new_record: Any, old_conclusion: str | None,
                    sent_conclusion: str | None) -> str:
    """The conclusion after a save of a fixed item 1-11 (``""`` for none).

    ``sent_conclusion`` is the conclusion the client sent (None when it sent none).
    The phone's form always sends the checked conclusion together with the record,
    so a sent conclusion equal to the stored one is not a choice. An explicit choice
    (a sent conclusion that differs from the stored one) wins; otherwise, when the
    record changes, the proposal follows the new record unless the stored conclusion
    had been chosen against the old record's proposal (then it stays)."""
    old_conclusion = old_conclusion or ""
    if sent_conclusion is not None and (sent_conclusion or "") != old_conclusion:
        return sent_conclusion or ""
    old_codes = normalize_record(item_no, old_record)
    new_codes = normalize_record(item_no, new_record)
    if new_codes == old_codes:
        return old_conclusion
    old_proposal = proposed_conclusion(item_no, old_codes) if old_codes else None
    if old_conclusion and old_conclusion != old_proposal:
        return old_conclusion          # chosen by the officer: kept
    return (proposed_conclusion(item_no, new_codes) if new_codes else None) or ""


def contradiction(item_no: int, record: Any, conclusion: str | None, remark: str | None) -> str | None:
    """Error (Chinese) when a record option implies non-conformity but the conclusion is
    符合 or 不适用 and no remark explains why; None otherwise (also for item 12 and for
    answers that are invalid for other reasons)."""
    if int(item_no) not in ITEMS or conclusion not in (CONFORM, NOT_APPLICABLE):
        return None
    if validate_answer(item_no, record, conclusion) or proposed_conclusion(item_no, record) != NONCONFORM:
        return None
    if str(remark or "").strip():
        return None
    return (f"第{int(item_no)}项：检查记录为“{record_label(item_no, record)}”，结论却为"
            f"“{CONCLUSION_LABELS[conclusion]}”。请先在备注中说明理由，或改选结论为不符合")


def contradictions(answers: Mapping[int, Any], item_remarks: Mapping[int, str] | None = None) -> list[str]:
    """``contradiction`` for every fixed item of a record, in item order."""
    remarks = item_remarks or {}
    out = []
    for n in FIXED_ITEM_NOS:
        record, conclusion = _answer_parts((answers or {}).get(n))
        error = contradiction(n, record, conclusion, remarks.get(n))
        if error:
            out.append(error)
    return out


# Bounds of a record (issue 11.10): the PDF of the largest allowed record renders in
# well under 2 s (bench/pdf_bench.py), and every bound is a clear refusal, never a
# silent cut.
MAX_EXTRA_ROWS = 30
MAX_ROW_PROJECT = 100
MAX_ROW_RECORD = 300
MAX_ROW_REMARK = 200
MAX_ITEM_REMARK = 200
MAX_SUMMARY = 2000
MAX_SUMMARY_LINES = 50
MAX_EQUIPMENT_ROWS = 40
MAX_EQUIPMENT_REMARK = 100
ROW_FIELD_LIMITS = {"project": ("检查项目", MAX_ROW_PROJECT), "record": ("检查记录", MAX_ROW_RECORD),
                    "remark": ("备注", MAX_ROW_REMARK)}


def too_long(label: str, text: str | None, limit: int) -> str | None:
    """Error (Chinese) when ``text`` is longer than ``limit`` characters."""
    n = len(text or "")
    if n > limit:
        return f"{label}最多 {limit} 个字（现有 {n} 个字），请精简后再保存"
    return None


def extra_row_field_errors(data: Mapping[str, Any]) -> list[str]:
    """Length errors for the fields of one item-12 row present in ``data``."""
    errors = []
    for field, (label, limit) in ROW_FIELD_LIMITS.items():
        if field in data:
            error = too_long(f"第12项{label}", str(data[field] or ""), limit)
            if error:
                errors.append(error)
    return errors


def extra_rows_full_message() -> str:
    return f"第12项最多 {MAX_EXTRA_ROWS} 行。请把相近的项目合并到一行，或写入现场检查发现的问题汇总"


def summary_errors(text: str) -> list[str]:
    errors = [e for e in (too_long("问题汇总", text, MAX_SUMMARY),) if e]
    if (text or "").count("\n") + 1 > MAX_SUMMARY_LINES:
        errors.append(f"问题汇总最多 {MAX_SUMMARY_LINES} 行，请合并后再保存")
    return errors


def validate_extra_row(row: Any) -> list[str]:
    """Errors for one item-12 row (项目 required; conclusion, if any, must be known)."""
    project, _record, conclusion, _remark = _row_parts(row)
    errors = []
    if not project:
        errors.append("第12项：请填写检查项目名称")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        errors.append(f"第12项：单项检查结论无效：{conclusion}")
    return errors


def _marked_no_extra(answers: Mapping[int, Any]) -> bool:
    record, _ = _answer_parts(answers.get(EXTRA_ITEM_NO))
    return normalize_record(EXTRA_ITEM_NO, record) == (NO_EXTRA_ITEMS,)


def validate_item12(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> list[str]:
    """Errors for item 12 as a whole: each row, an unknown marker, and the
    contradiction 无其他检查项目 + rows."""
    rows = list(extra_rows or ())
    errors = [e for row in rows for e in validate_extra_row(row)]
    record, _ = _answer_parts(answers.get(EXTRA_ITEM_NO))
    codes = normalize_record(EXTRA_ITEM_NO, record)
    if codes and codes != (NO_EXTRA_ITEMS,):
        errors.append(f"第12项：检查记录选项无效：{'、'.join(codes)}")
    if rows and _marked_no_extra(answers):
        errors.append("第12项：已选择“无其他检查项目”，但填写了其他检查项目")
    return errors


# ---------------------------------------------------------------------------
# Completeness, overall conclusion, summary
# ---------------------------------------------------------------------------


def is_item_complete(item_no: int, answer: Any) -> bool:
    record, conclusion = _answer_parts(answer)
    if not conclusion or validate_answer(item_no, record, conclusion):
        return False
    return conclusion == NOT_APPLICABLE or bool(normalize_record(item_no, record))


def extra_row_complete(row: Any) -> bool:
    project, _record, conclusion, _remark = _row_parts(row)
    return bool(project) and conclusion in CONCLUSIONS


def item12_filled(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> bool:
    rows = list(extra_rows or ())
    if rows:
        return all(extra_row_complete(r) for r in rows)
    return _marked_no_extra(answers)


def missing_items(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> list[int]:
    """Item numbers (1-12) not yet filled."""
    answers = answers or {}
    missing = [n for n in FIXED_ITEM_NOS if not is_item_complete(n, answers.get(n))]
    if not item12_filled(answers, extra_rows):
        missing.append(EXTRA_ITEM_NO)
    return missing


def is_complete(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> bool:
    """All 11 fixed items complete and item 12 filled (rows, or 无其他检查项目)."""
    return not missing_items(answers, extra_rows)


def progress(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> tuple[int, int]:
    """(filled, 12)."""
    return TOTAL_ITEMS - len(missing_items(answers, extra_rows)), TOTAL_ITEMS


def _nonconform_items(answers: Mapping[int, Any]) -> list[int]:
    out = []
    for n in FIXED_ITEM_NOS:
        record, conclusion = _answer_parts(answers.get(n))
        if conclusion == NONCONFORM and not validate_answer(n, record, conclusion):
            out.append(n)
    return out


def _nonconform_rows(extra_rows: Iterable[Any]) -> list[Any]:
    return [r for r in (extra_rows or ()) if _row_parts(r)[2] == NONCONFORM]


def overall_conclusion(answers: Mapping[int, Any], extra_rows: Iterable[Any] = (), *,
                       early_fail: bool = False) -> str | None:
    """PASS (合格) exactly when no item, item-12 rows included, is 不符合; FAIL
    otherwise (note 2).  None while the form is incomplete — except that with
    ``early_fail=True`` a recorded 不符合 gives FAIL at once."""
    _missing, conclusion, failed = verdict(answers, extra_rows)
    return FAIL if failed and early_fail else conclusion


def verdict(answers: Mapping[int, Any], extra_rows: Iterable[Any] = ()) -> tuple[list[int], str | None, bool]:
    """Everything a record's status needs, computed once: (the items not yet filled,
    the overall conclusion or None while incomplete, whether any item is 不符合)."""
    answers = answers or {}
    rows = list(extra_rows or ())
    failed = bool(_nonconform_items(answers) or _nonconform_rows(rows))
    missing = missing_items(answers, rows)
    return missing, None if missing else (FAIL if failed else PASS), failed


def problem_summary(answers: Mapping[int, Any], extra_rows: Iterable[Any] = (),
                    item_remarks: Mapping[int, str] | None = None) -> str:
    """Pre-filled 现场检查发现的问题汇总: one numbered line per 不符合 item, e.g.
    ``1. 第3项 超许可证范围生产：存在；备注文字``.  Item-12 rows use their 项目 as
    wording.  Empty string when nothing is 不符合."""
    answers = answers or {}
    remarks = item_remarks or {}
    lines = []
    for n in _nonconform_items(answers):
        record, _ = _answer_parts(answers.get(n))
        detail = [p for p in (record_label(n, record),
                              str(remarks.get(n) or remarks.get(str(n)) or "").strip()) if p]
        lines.append(f"第{n}项 {ITEMS[n].short}：{'；'.join(detail) or CONCLUSION_LABELS[NONCONFORM]}")
    for row in _nonconform_rows(extra_rows):
        project, record, _c, remark = _row_parts(row)
        detail = [p for p in (record, remark) if p]
        lines.append(f"第12项 {project or ITEM_12.short}：{'；'.join(detail) or CONCLUSION_LABELS[NONCONFORM]}")
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


# ---------------------------------------------------------------------------
# 关键生产设备表: row statuses
# ---------------------------------------------------------------------------

EQUIP_SAME = "same"
EQUIP_CHANGED = "changed"
EQUIP_RETIRED = "retired"
EQUIP_ADDED = "added"

EQUIPMENT_STATUSES: tuple[Choice, ...] = (
    Choice(EQUIP_SAME, "与取证时一致"),
    Choice(EQUIP_CHANGED, "已变更"),
    Choice(EQUIP_RETIRED, "已停用或报废"),
    Choice(EQUIP_ADDED, "新增"),
)
EQUIPMENT_STATUS_LABELS: dict[str, str] = {c.code: c.label for c in EQUIPMENT_STATUSES}


def _qty(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def equipment_change_notes(rows: Iterable[Any]) -> list[str]:
    """One note per equipment row that shows a change since licensing: status
    other than 与取证时一致, or 取证时数量 differing from 现场数量.  Row fields:
    ``name``, ``status``, ``licensed_qty``, ``onsite_qty`` (mapping keys or attributes)."""
    notes = []
    for row in rows or ():
        name = str(_field(row, "name", "equipment_name", default="") or "").strip() or "（未命名设备）"
        status = _field(row, "status")
        if status and status != EQUIP_SAME:
            notes.append(f"{name}：{EQUIPMENT_STATUS_LABELS.get(status, status)}")
            continue
        licensed = _qty(_field(row, "licensed_qty", "qty_at_licensing"))
        onsite = _qty(_field(row, "onsite_qty", "qty_onsite"))
        if licensed is not None and onsite is not None and licensed != onsite:
            notes.append(f"{name}：数量由{licensed:g}变为{onsite:g}")
    return notes


def equipment_suggests_change(rows: Iterable[Any]) -> bool:
    """True when the equipment table shows a change since licensing (item 2)."""
    return bool(equipment_change_notes(rows))


def item2_equipment_warning(record: Any, equipment_rows: Iterable[Any]) -> str | None:
    """Warning when item 2 says 未发生变化 but the equipment table shows a change."""
    if normalize_record(2, record) == ("unchanged",) and equipment_suggests_change(equipment_rows):
        return "第2项：关键生产设备表显示设备与取证时相比有变化，但检查记录为“未发生变化”，请核实"
    return None


# ---------------------------------------------------------------------------
# Reasons a drawn enterprise was not inspected
# ---------------------------------------------------------------------------
# 已注销 and 已关闭 are two codes (not one "已注销/已关闭") because they publish
# under different result categories.

REASON_SUSPENDED = "suspended"
REASON_SWITCHED = "switched"
REASON_UNREACHABLE = "unreachable"
REASON_REFUSED = "refused"
REASON_DEREGISTERED = "deregistered"
REASON_CLOSED = "closed"

NOT_INSPECTED_REASONS: tuple[Choice, ...] = (
    Choice(REASON_SUSPENDED, "停产"),
    Choice(REASON_SWITCHED, "转产"),
    Choice(REASON_UNREACHABLE, "无法联系（查无下落）"),
    Choice(REASON_REFUSED, "拒绝检查"),
    Choice(REASON_DEREGISTERED, "已注销"),
    Choice(REASON_CLOSED, "已关闭"),
)
NOT_INSPECTED_REASON_LABELS: dict[str, str] = {c.code: c.label for c in NOT_INSPECTED_REASONS}
