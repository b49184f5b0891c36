"""The figures of a plan, in one place: the dashboard and the summary report (XLSX, PDF)
both read ``summary()``, so what the province receives equals what the dashboard shows.

The per-unit task figures are the dashboard's own (``services.facts``); this
module adds the 不符合 count per checklist item and the follow-up outcomes, counted over
the same tasks (the user's scope)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..extensions import db
from ..inspections import rules
from .services import METRICS, TaskFacts, UnitRow, facts, totals, unit_rows

# Columns of the task table, in the order of the report (metric keys of oversight.METRICS).
TASK_COLUMNS = ("drawn", "inspected", "not_inspected", "pass", "fail", "submitted", "approved", "published",
                "published_on_time", "published_late", "overdue")
# Follow-up outcomes: (key, label). Counted per case (an enterprise), not per action row.
OUTCOMES = (
    ("cases", "后续处理案件"), ("interview", "约谈"), ("order", "责令整改"), ("recheck_pass", "复查合格"),
    ("recheck_fail", "复查不合格"), ("case", "立案查处"), ("revoke", "报请撤销或吊销"), ("cancel", "注销"),
    ("closed", "已结案"), ("open", "未结案"),
)


@dataclass
class ItemCount:
    no: int
    text: str
    nonconform: int
    share: float | None     # of the inspected records


@dataclass
class OutcomeRow:
    unit: object
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Summary:
    plan: object
    items: list[TaskFacts]
    rows: list[UnitRow]
    total: UnitRow
    item_counts: list[ItemCount]
    outcomes: list[OutcomeRow]
    outcome_total: OutcomeRow
    today: date

    @property
    def max_item(self) -> int:
        return max([c.nonconform for c in self.item_counts] + [0])


def item_nonconformities(items: list[TaskFacts]) -> list[ItemCount]:
    """不符合 per checklist item over the inspected (submitted or approved) records;
    item 12 counts a record once when any of its free rows is 不符合."""
    from ..inspections.models import Answer, ExtraRow

    ids = [i.inspection.id for i in items if "inspected" in i.metrics]
    counts = {no: 0 for no in rules.ALL_ITEMS}
    for start in range(0, len(ids), 900):          # bounded IN lists (SQLite's parameter limit)
        chunk = ids[start:start + 900]
        for no, n in db.session.execute(
                select(Answer.item_no, func.count()).where(Answer.inspection_id.in_(chunk),
                                                           Answer.conclusion == rules.NONCONFORM,
                                                           Answer.item_no != rules.EXTRA_ITEM_NO)
                .group_by(Answer.item_no)):
            counts[no] = counts.get(no, 0) + n
        counts[rules.EXTRA_ITEM_NO] += db.session.scalar(
            select(func.count(func.distinct(ExtraRow.inspection_id)))
            .where(ExtraRow.inspection_id.in_(chunk), ExtraRow.conclusion == rules.NONCONFORM)) or 0
    inspected = len(ids)
    return [ItemCount(no, item.short or item.text, counts.get(no, 0),
                      counts.get(no, 0) / inspected if inspected else None)
            for no, item in rules.ALL_ITEMS.items()]


def outcomes(items: list[TaskFacts]) -> tuple[list[OutcomeRow], OutcomeRow]:
    """Follow-up outcomes per unit: cases, and the cases that saw each action or ended so."""
    from . import followup
    from .models import FollowUpAction, FollowUpCase

    by_task = {i.task.id: i.task for i in items}
    rows: dict[int, OutcomeRow] = {}
    keys = [k for k, _ in OUTCOMES]
    cases = []
    task_ids = list(by_task)
    for start in range(0, len(task_ids), 900):
        cases += db.session.scalars(select(FollowUpCase).options(lazyload(FollowUpCase.task))
                                    .where(FollowUpCase.task_id.in_(task_ids[start:start + 900]))).unique().all()
    actions: dict[int, set[str]] = {}
    case_ids = [c.id for c in cases]
    for start in range(0, len(case_ids), 900):
        for case_id, action, passed in db.session.execute(
                select(FollowUpAction.case_id, FollowUpAction.action, FollowUpAction.recheck_passed)
                .where(FollowUpAction.case_id.in_(case_ids[start:start + 900]))):
            name = action if action != followup.RECHECK else ("recheck_pass" if passed else "recheck_fail")
            actions.setdefault(case_id, set()).add(name)
    for case in cases:
        task = by_task[case.task_id]
        row = rows.setdefault(task.unit_id, OutcomeRow(task.unit, {k: 0 for k in keys}))
        row.counts["cases"] += 1
        for name in actions.get(case.id, ()):
            if name in row.counts:
                row.counts[name] += 1
        row.counts["closed" if case.state == followup.CLOSED else "open"] += 1
    ordered = sorted(rows.values(), key=lambda r: r.unit.sort_order)
    total = OutcomeRow(None, {k: sum(r.counts[k] for r in ordered) for k in keys})
    return ordered, total


def summary(plan, user, today: date | None = None) -> Summary:
    from ..core.timeutil import local_today

    today = today or local_today()
    items = facts(plan, user, today)
    rows = unit_rows(items)
    outcome_rows, outcome_total = outcomes(items)
    return Summary(plan, items, rows, totals(rows), item_nonconformities(items), outcome_rows, outcome_total, today)


def reason_columns() -> list[tuple[str, str]]:
    return [(c.code, c.label) for c in rules.NOT_INSPECTED_REASONS]


def task_table(s: Summary) -> tuple[list[str], list[list]]:
    """The per-unit task table as header + rows of plain values (numbers as numbers)."""
    header = ["单位", *(METRICS[k] for k in TASK_COLUMNS[:3]),
              *(f"未能检查：{label}" for _, label in reason_columns()), *(METRICS[k] for k in TASK_COLUMNS[3:]),
              "任务完成率", "结果公示率"]
    out = []
    for row in [*s.rows, s.total]:
        out.append([row.unit.name if row.unit else "合计", *(row.counts[k] for k in TASK_COLUMNS[:3]),
                    *(row.reasons.get(code, 0) for code, _ in reason_columns()),
                    *(row.counts[k] for k in TASK_COLUMNS[3:]),
                    row.rate("done", "drawn"), row.rate("published", "done")])
    return header, out


def item_table(s: Summary) -> tuple[list[str], list[list]]:
    header = ["序号", "检查项目", "不符合（户）", "占已检查企业比例"]
    return header, [[c.no, c.text, c.nonconform, c.share] for c in s.item_counts]


def outcome_table(s: Summary) -> tuple[list[str], list[list]]:
    header = ["单位", *(label for _, label in OUTCOMES)]
    return header, [[r.unit.name if r.unit else "合计", *(r.counts[k] for k, _ in OUTCOMES)]
                    for r in [*s.outcomes, s.outcome_total]]
