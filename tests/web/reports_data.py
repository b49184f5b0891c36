"""Demo-like data for the documents' tests (reports, archive, notices): a dispatched plan over
two units with officers drawn, records 合格 / 不合格 (with photos, signatures, a refusal,
a stamped copy, a self-report), one 停产, open tasks, a publication and follow-up actions."""
from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import select

from xcapp.core.timeutil import local_today
from xcapp.demo.inspections import FAILING, PASSING, signature
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Inspection
from xcapp.plans.models import Task

# A symbol-laden equipment model, as the demo's 立式储罐 200m³.
TANK_MODEL = "200m³ Φ3.2m ≤0.6MPa ±5% ①"


def jpeg(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (seed * 40 % 255, 90, 160)).save(buf, "JPEG")
    return buf.getvalue()


@dataclass
class Data:
    plan: object
    tasks: list
    admin: object          # county admin of 魏都区
    city: object
    inspections: dict      # task code -> latest Inspection
    weidu: list            # 魏都区: 0 合格 published, stamped, self-report; 1 不合格 (约谈, 责令整改, 复查合格);
    #                        2 不合格, refused to sign (责令整改, 复查不合格, 报请); 3 停产; 4 submitted 合格; 5 open
    yuzhou: list           # 禹州市: 0 不合格 (no action yet); 1 合格; 2 open


def build(make_enterprise, make_officer, make_user) -> Data:
    from xcapp.inspections.answers import save_answer
    from xcapp.inspections.evidence import (add_photo, attach_stamp, record_refusal, save_self_report, sign_enterprise,
                                            sign_officer)
    from xcapp.inspections.lifecycle import approve, record_not_inspected, start, submit
    from xcapp.oversight.services import take_action
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers, freeze_plan
    from xcapp.publicity.models import Publication
    from xcapp.registry.services import set_equipment

    units = ["411002"] * 6 + ["411081"] * 3
    for n, unit in enumerate(units):
        e = make_enterprise(unit=unit, risk="高", name=f"许昌喆堃{n}号化工有限公司")
        set_equipment(e, [{"name": "立式储罐", "model": TANK_MODEL, "quantity": 2}])
    for unit in ("411002", "411002", "411002", "411081", "411081"):
        make_officer(unit=unit)
    today = local_today()
    plan = create_plan({"code": "文书〔2030〕1号", "name": "文书测试计划", "year": today.year, "ratio_low": 100,
                        "ratio_mid": 100, "ratio_midhigh": 100, "ratio_high": 100, "k": 2,
                        "deadline": today.replace(year=today.year + 1).isoformat(), "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "docs")
    dispatch_plan(plan.id)
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.code)).all()
    for unit_id in {t.unit_id for t in tasks}:
        draw_officers(plan.id, unit_id, "")
    db.session.commit()
    admin = make_user("county_admin", "411002")
    admin_yz = make_user("county_admin", "411081")
    city = make_user("city_admin", "411000")
    inspectors = {}

    def actor_for(task):
        officer = task.active_officers[0].officer
        if officer.user_id is None:
            user = make_user("inspector", task.unit.code)
            officer.user_id = user.id
            db.session.commit()
            inspectors[officer.id] = user
        from xcapp.auth.models import User
        return db.session.get(User, officer.user_id)

    weidu = [t for t in tasks if t.unit.code == "411002"]
    yuzhou = [t for t in tasks if t.unit.code == "411081"]
    # plan: weidu 0 pass+published, 1 fail (item 6), 2 fail (items 6, 7) refused, 3 停产, 4 submitted pass, 5 open;
    #       yuzhou 0 fail (item 4), 1 pass, 2 open
    script = [(weidu[0], "pass", True), (weidu[1], [FAILING[0]], True), (weidu[2], [FAILING[0], FAILING[1]], True),
              (weidu[3], "suspended", True), (weidu[4], "pass", False), (yuzhou[0], [FAILING[2]], True),
              (yuzhou[1], "pass", True)]
    for k, (task, kind, approved) in enumerate(script):
        actor = actor_for(task)
        inspection = start(task.id, actor)
        db.session.flush()
        if kind == "suspended":
            record_not_inspected(inspection.id, rules.REASON_SUSPENDED, "厂区大门上锁，企业停产", today, actor)
        else:
            for no, code in PASSING.items():
                save_answer(inspection.id, no, {"record": [code]}, actor)
            for no, code, remark in (kind if isinstance(kind, list) else []):
                save_answer(inspection.id, no, {"record": [code], "remark": remark}, actor)
            save_answer(inspection.id, 12, {"record": [rules.NO_EXTRA_ITEMS], "conclusion": ""}, actor)
            add_photo(inspection.id, 1, jpeg(k), actor)
            add_photo(inspection.id, 6, jpeg(k + 1), actor)
            _equipment(inspection, actor)
            for n, place in enumerate(task.active_officers):
                sign_officer(inspection.id, place.officer_id, True, signature(k * 10 + n), actor)
            if k == 2:
                record_refusal(inspection.id, "企业负责人对检查结论有异议，拒绝签字",
                               [p.officer_id for p in task.active_officers], actor)
            else:
                sign_enterprise(inspection.id, "无异议", "王五", signature(k + 100), actor)
            if k == 0:
                save_self_report(task.id, "企业自查：12 项均符合。", None, actor)
            submit(inspection.id, today, actor)
            if k == 0:
                attach_stamp(inspection.id, jpeg(99), actor)
        db.session.commit()
        if approved:
            approve(inspection.id, admin if task.unit.code == "411002" else admin_yz)
            db.session.commit()
    first = db.session.scalar(select(Inspection).where(Inspection.task_id == weidu[0].id))
    db.session.add(Publication(inspection_id=first.id, category="no_problem", confirmed_on=today))
    db.session.commit()
    from xcapp.oversight.models import FollowUpCase

    case1 = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == weidu[1].id))
    take_action(case1.id, "interview", "约谈企业负责人", None, None, admin)
    take_action(case1.id, "order", "限期整改", today, None, admin)
    take_action(case1.id, "recheck", "复查合格", None, True, admin)
    case2 = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == weidu[2].id))
    take_action(case2.id, "order", "限期整改", today, None, admin)
    take_action(case2.id, "recheck", "仍未整改", None, False, admin)
    take_action(case2.id, "revoke", "报请发证机关吊销", None, None, admin)
    db.session.commit()
    from xcapp.inspections.services import latest

    return Data(plan, tasks, admin, city, {t.code: latest(t) for t in tasks}, weidu, yuzhou)


def _equipment(inspection, actor):
    from xcapp.inspections.answers import confirm_equipment, save_equipment_row

    for row in inspection.equipment_rows:
        save_equipment_row(inspection.id, row.id, {"onsite_qty": str(row.licensed_qty or 1), "status": "same"}, actor)
    confirm_equipment(inspection.id, actor)
