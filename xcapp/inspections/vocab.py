"""The inspection record's vocabularies: its states and the self-check verdict.
Pure Python; the values are what the database stores (see core/vocab.py)."""
from __future__ import annotations

from ..core.vocab import Vocabulary

__all__ = ["InspectionState", "INSPECTION_DONE_STATES", "SelfCheckMatch"]


class InspectionState(Vocabulary):
    """One revision of a task's record: filled in, submitted, then approved or returned
    (a returned record is kept and a new revision starts as a draft)."""

    DRAFT = "draft", "填写中"
    SUBMITTED = "submitted", "已提交"
    RETURNED = "returned", "已退回"
    APPROVED = "approved", "已通过"


#: A record in one of these holds the inspection's result (the task counts as done).
INSPECTION_DONE_STATES = (InspectionState.SUBMITTED, InspectionState.APPROVED)


class SelfCheckMatch(Vocabulary):
    """How the enterprise's self-check report matches what the officers found."""

    MATCH = "match", "符合"
    PARTLY = "partly", "基本符合"
    MISMATCH = "mismatch", "不符合"
    NONE = "none", "企业未提供自查报告"
