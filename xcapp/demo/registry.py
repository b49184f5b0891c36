"""Demo registries: about 300 enterprises and 60 officers over the Xuchang units."""
from __future__ import annotations

import random

from sqlalchemy import func, select

from ..auth.models import User
from ..core.models import inspecting_units
from ..core.timeutil import local_today
from ..extensions import db
from ..registry.models import Enterprise, Officer
from ..registry.services import (categories, declare_recusal, ensure_categories, link_officer_account,
                                 save_enterprise, save_officer, set_equipment)
from ..registry.vocab import OfficerStatus
from .synthetic import generate_enterprises, generate_officers

DEMO_SEED = 20230704
ENTERPRISES = 300
OFFICERS = 60
# The demo inspector accounts and the officers they are.
LINKED = [("weidu_jc1", "411002", "张建国", "豫许执02901"), ("weidu_jc2", "411002", "李玥", "豫许执02902"),
          ("jingkai_jc1", "411071", "王喆", "豫许执71901")]


def load_registries() -> None:
    ensure_categories()
    if db.session.scalar(select(func.count()).select_from(Enterprise)):
        return  # loaded before: the demo never overwrites edits made since
    today = local_today()
    units = [u.code for u in inspecting_units()]
    names = [c.name for c in categories(active_only=True)]
    for row in generate_enterprises(ENTERPRISES, units, names, seed=DEMO_SEED, today=today):
        enterprise = save_enterprise({
            "name": row["name"], "uscc": row["uscc"], "address": row["address"],
            "production_address": row["production_address"], "legal_rep": row["legal_rep"],
            "contact": row["contact"], "phone": row["phone"], "licence_no": row["licence_no"],
            "issue_date": row["issue_date"], "expiry_date": row["expiry_date"], "category_id": row["category"],
            "product_scope": row["product_scope"], "unit_id": row["unit"], "risk": row["risk"],
            "production_state": row["production_state"], "licence_state": row["licence_state"]})
        set_equipment(enterprise, row["equipment"], action="新建")
    for username, unit, name, cert in LINKED:
        officer = save_officer({"name": name, "cert_no": cert, "unit_id": unit, "position": "科员",
                                "phone": "13700000000", "cert_expiry": today.replace(year=today.year + 3),
                                "status": OfficerStatus.ACTIVE, "specialty_id": ""})
        if db.session.scalar(select(User).where(User.username == username)) is not None:
            link_officer_account(officer, username)
    for row in generate_officers(OFFICERS - len(LINKED), units, names, seed=DEMO_SEED, today=today):
        save_officer({"name": row["name"], "cert_no": row["cert_no"], "unit_id": row["unit"],
                      "position": row["position"], "phone": row["phone"], "cert_expiry": row["cert_expiry"],
                      "status": OfficerStatus.ACTIVE if row["active"] else OfficerStatus.INACTIVE,
                      "specialty_id": row["specialty"] or ""})
    db.session.flush()
    rnd = random.Random(DEMO_SEED)
    officers = db.session.scalars(select(Officer).order_by(Officer.cert_no)).all()
    for officer in rnd.sample(officers, 5):
        candidates = db.session.scalars(select(Enterprise).where(Enterprise.unit_id == officer.unit_id)
                                        .order_by(Enterprise.uscc)).all()
        if candidates:
            reason = rnd.choice(["近亲属在该企业任职", "曾在该企业工作，离职未满三年", "与企业负责人存在利害关系"])
            declare_recusal(officer, rnd.choice(candidates), reason, today)
