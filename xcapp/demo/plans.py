"""Demo plan 许市监抽〔2023〕1号: frozen, drawn, dispatched, with officers drawn in every unit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..plans.models import Plan
from ..plans.services import (create_plan, dispatch_plan, draw_enterprises, draw_officers_many, freeze_plan,
                              units_without_officer_draw)

DEMO_CODE = "许市监抽〔2023〕1号"
DEMO_ENTROPY = "2023-07-10 福彩3D 第2023183期 开奖号码 5 8 2"
OFFICER_ENTROPY = "2023-07-20 体彩排列3 第23193期 开奖号码 4 1 9"


def load_plan() -> None:
    if db.session.scalar(select(Plan.id).where(Plan.code == DEMO_CODE)):
        return
    plan = create_plan({
        "code": DEMO_CODE, "name": "2023年度工业产品生产许可证获证企业资格“双随机一公开”监督检查",
        "year": 2023, "ratio_low": 10, "ratio_mid": 20, "ratio_midhigh": 30, "ratio_high": 50, "k": 2,
        "deadline": "2023-10-31", "publication_workdays": 20, "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, DEMO_ENTROPY)
    dispatch_plan(plan.id)
    plan.dispatched_at = datetime(2023, 7, 12, 1, 0)   # the demo's story: dispatched in July 2023
    draw_officers_many(plan.id, [u.id for u in units_without_officer_draw(plan)], OFFICER_ENTROPY)
