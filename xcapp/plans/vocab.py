"""The plans' vocabularies: plan and task states, task kinds and methods, the ratio fields.
Pure Python; the values are what the database stores (see core/vocab.py)."""
from __future__ import annotations

from ..core.vocab import Vocabulary
from ..registry.vocab import RiskClass

__all__ = ["PlanState", "TaskState", "TASK_OPEN_STATES", "TaskKind", "TaskMethod", "RatioField"]


class PlanState(Vocabulary):
    DRAFT = "draft", "草稿"
    FROZEN = "frozen", "名单已冻结"
    DRAWN = "drawn", "已抽取"
    DISPATCHED = "dispatched", "已派发"
    IN_PROGRESS = "in_progress", "实施中"
    COMPLETED = "completed", "已完成"


class TaskState(Vocabulary):
    """A task's state; the inspection's lifecycle (start, submit, approve, return) moves it on."""

    PENDING = "pending", "待检查"
    IN_PROGRESS = "in_progress", "检查中"
    SUBMITTED = "submitted", "已提交"
    RETURNED = "returned", "已退回"
    APPROVED = "approved", "已通过"


#: A task in one of these still awaits its (next) record: it can be overdue, change method.
TASK_OPEN_STATES = (TaskState.PENDING, TaskState.IN_PROGRESS, TaskState.RETURNED)


class TaskKind(Vocabulary):
    """Drawn by the plan's draw, or created later for the same enterprise (not random)."""

    DRAWN = "drawn", "双随机抽查"
    LATER = "later", "后续检查"
    RECHECK = "recheck", "复查"


class TaskMethod(Vocabulary):
    """Inspection method per task (检查方式), stored as the code of the credit system's
    vocabulary (publicity.categories.INSPECTION_METHODS); labels as the bureau says them."""

    ONSITE = "onsite", "现场检查"
    DOCUMENT = "document", "书面检查"
    ONLINE = "online", "网络监测"
    TESTING = "testing", "委托检验"


class RatioField(Vocabulary):
    """The plan form's ratio field per risk class (PlanForm, ``flask plans create --ratios``);
    a plan stores the ratios by risk class (``Plan.ratios``)."""

    LOW = "ratio_low", "低风险抽取比例（%）"
    MID = "ratio_mid", "中风险抽取比例（%）"
    MIDHIGH = "ratio_midhigh", "中高风险抽取比例（%）"
    HIGH = "ratio_high", "高风险抽取比例（%）"

    @property
    def risk(self) -> RiskClass:
        return RiskClass[self.name]
