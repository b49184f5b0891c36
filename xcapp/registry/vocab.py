"""The registries' vocabularies: risk classes, production and licence states, officer status.
Pure Python; the values are what the database stores (see core/vocab.py)."""
from __future__ import annotations

from typing import Final

from ..core.vocab import Vocabulary

__all__ = ["RiskClass", "RISK_PENDING", "RISK_CHOICES", "ProductionState", "LicenceState", "LICENCE_EXPIRED",
           "LICENCE_STATES_SHOWN", "ENDED_LICENCE_STATES", "OfficerStatus"]


class RiskClass(Vocabulary):
    """An enterprise's risk class, in the draw's selection order (DRAW-PROTOCOL §1.4)."""

    LOW = "低", "低风险"
    MID = "中", "中风险"
    MIDHIGH = "中高", "中高风险"
    HIGH = "高", "高风险"


#: Not yet classified (issue 13.4): an enterprise imported from the licence database stays
#: 待定 until a risk-classification import sets its class. It is never drawn as some class:
#: a plan whose scope holds one cannot be frozen (xcapp/plans/services.freeze_plan).
RISK_PENDING: Final = "待定"
#: What an enterprise's ``risk`` may hold.
RISK_CHOICES: Final = (*RiskClass, RISK_PENDING)


class ProductionState(Vocabulary):
    NORMAL = "正常生产"
    SUSPENDED = "停产"
    SWITCHED = "转产"


class LicenceState(Vocabulary):
    """Stored licence states; 过期 (LICENCE_EXPIRED) is never stored, it follows from the expiry date."""

    VALID = "有效"
    CANCELLED = "注销"
    REVOKED = "吊销"
    ANNULLED = "撤销"


LICENCE_EXPIRED: Final = "过期"
#: The states a list shows and filters by: the stored ones and 过期.
LICENCE_STATES_SHOWN: Final = (*LicenceState, LICENCE_EXPIRED)
#: A licence in one of these is over for good: the enterprise leaves every population.
ENDED_LICENCE_STATES: Final = (LicenceState.CANCELLED, LicenceState.REVOKED, LicenceState.ANNULLED)


class OfficerStatus(Vocabulary):
    ACTIVE = "在岗"
    INACTIVE = "停用"
