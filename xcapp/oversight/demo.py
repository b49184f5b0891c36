"""Demo follow-up: the 不合格 case of the 2023 plan ordered to rectify and re-inspected."""
from datetime import date

from sqlalchemy import select

from ..auth.models import User
from ..demo import demo_extension
from ..extensions import db
from . import followup
from .models import FollowUpCase
from .services import take_action


@demo_extension
def load_follow_up() -> None:
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.kind == "fail", FollowUpCase.state == "pending"))
    if case is None or case.actions:
        return
    admin = db.session.scalar(select(User).where(User.role == "county_admin", User.unit_id == case.task.unit_id)) or \
        db.session.scalar(select(User).where(User.role == "city_admin"))
    take_action(case.id, followup.INTERVIEW, "约谈企业负责人，告知检查发现的问题", None, None, admin)
    take_action(case.id, followup.ORDER, "责令15日内完成整改并提交整改报告", date(2023, 10, 20), None, admin)
    take_action(case.id, followup.RECHECK, "复查：问题已整改到位", None, True, admin)
