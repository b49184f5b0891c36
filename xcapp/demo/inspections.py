"""Demo inspections in 许市监抽〔2023〕1号: some 合格, some 不合格, one refusal to sign,
one 停产, the rest still open (including every task of the demo inspector accounts)."""
from __future__ import annotations

import base64
import io
import random
import secrets
from datetime import date, timedelta

from sqlalchemy import select

from ..auth.models import User
from ..auth.services import create_user
from ..extensions import db
from ..inspections import rules
from ..inspections.models import Inspection
from ..inspections.answers import confirm_equipment, save_answer, save_equipment_row
from ..inspections.evidence import record_refusal, sign_enterprise, sign_officer
from ..inspections.lifecycle import approve, record_not_inspected, start, submit
from ..plans.models import Plan, Task
from . import DEMO_ACCOUNTS
from .plans import DEMO_CODE

PASSING = {1: "valid", 2: "unchanged", 3: "not_exists", 4: "marked", 5: "valid", 6: "tested_archived",
           7: "established_executed", 8: "yes", 9: "conform", 10: "none", 11: "none"}
FAILING = [(6, "records_incomplete", "2023年第二季度出厂检验记录缺失"),
           (7, "not_established", "未建立原材料进货台帐"),
           (4, "not_marked", "部分产品包装未标注生产许可证编号")]


def signature(seed: int) -> str:
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    img = Image.new("RGBA", (320, 120), (255, 255, 255, 0))
    points = [(20 + i * 28, 60 + rnd.randint(-35, 35)) for i in range(11)]
    ImageDraw.Draw(img).line(points, fill=(20, 20, 60, 255), width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def account_for(officer) -> User:
    """The officer's login (demo officers without one get an account nobody is told)."""
    if officer.user_id:
        return db.session.get(User, officer.user_id)
    user = create_user(f"demo_{officer.id}", secrets.token_urlsafe(12), "inspector", officer.unit.code, officer.name)
    officer.user_id = user.id
    db.session.flush()
    return user


def fill_record(inspection, actor, failing=None):
    for no, code in PASSING.items():
        save_answer(inspection.id, no, {"record": [code]}, actor)
    for no, code, remark in failing or []:
        save_answer(inspection.id, no, {"record": [code], "remark": remark}, actor)
    save_answer(inspection.id, 12, {"record": [rules.NO_EXTRA_ITEMS], "conclusion": ""}, actor)
    for row in inspection.equipment_rows:
        save_equipment_row(inspection.id, row.id, {"onsite_qty": str(row.licensed_qty or 1), "status": "same"}, actor)
    confirm_equipment(inspection.id, actor)
    for n, place in enumerate(inspection.task.active_officers):
        sign_officer(inspection.id, place.officer_id, True, signature(inspection.id * 10 + n), actor)


def load_inspections() -> None:
    plan = db.session.scalar(select(Plan).where(Plan.code == DEMO_CODE))
    if plan is None or db.session.scalar(select(Inspection.id).limit(1)) is not None:
        return
    demo_users = {name for name, *_ in DEMO_ACCOUNTS}
    tasks = [t for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.code))
             if t.active_officers and not any(o.officer.user and o.officer.user.username in demo_users
                                              for o in t.active_officers)]
    admins = {}
    day = date(2023, 8, 21)
    for i, task in enumerate(tasks[:12]):
        actor = account_for(task.active_officers[0].officer)
        for place in task.active_officers[1:]:
            account_for(place.officer)
        inspection = start(task.id, actor)
        db.session.flush()
        day += timedelta(days=3)
        if i == 9:
            record_not_inspected(inspection.id, rules.REASON_SUSPENDED, "厂区大门上锁，门卫称企业自2023年6月起停产",
                                 day, actor)
        elif i >= 10:
            save_answer(inspection.id, 1, {"record": ["valid"]}, actor)   # started, still open
            continue
        else:
            failing = [FAILING[i % 3]] if i in (5, 6, 7) else None
            fill_record(inspection, actor, failing)
            if i == 8:
                record_refusal(inspection.id, "企业负责人对检查结论有异议，拒绝在检查表上签字",
                               [p.officer_id for p in task.active_officers], actor)
            else:
                sign_enterprise(inspection.id, "无异议" if not failing else "按要求整改",
                                task.enterprise.legal_rep or "企业代表", signature(inspection.id), actor)
            submit(inspection.id, day, actor)
        if i in (0, 1, 2, 5, 9):
            admin = admins.get(task.unit_id)
            if admin is None:
                admin = db.session.scalar(select(User).where(User.role == "county_admin",
                                                             User.unit_id == task.unit_id)) or \
                    db.session.scalar(select(User).where(User.role == "city_admin"))
                admins[task.unit_id] = admin
            approve(inspection.id, admin)
        db.session.flush()

