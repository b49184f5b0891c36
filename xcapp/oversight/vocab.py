"""The follow-up cases' vocabularies: why a case opened and where it stands.
Pure Python; the values are what the database stores (see core/vocab.py).
What each state allows is the state machine in followup.py."""
from __future__ import annotations

from ..core.vocab import Vocabulary

__all__ = ["CaseKind", "CaseState"]


class CaseKind(Vocabulary):
    FAIL = "fail", "不合格"
    NOT_INSPECTED = "not_inspected", "未能检查"


class CaseState(Vocabulary):
    PENDING = "pending", "待处理"
    RECTIFYING = "rectifying", "整改中"
    RECHECK_PASS = "recheck_pass", "复查合格"
    RECHECK_FAIL = "recheck_fail", "复查不合格"
    REFERRED = "referred", "已移送或已报请"
    CLOSED = "closed", "已结案"
