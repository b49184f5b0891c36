"""Demo follow-up: the 不合格 case of the 2023 plan ordered to rectify and re-inspected."""
from datetime import date

from sqlalchemy import select

from ..auth.models import User
from ..extensions import db
from ..inspections import rules
from ..inspections.models import Inspection, SelfReport
from ..inspections.evidence import save_self_report, sign_enterprise
from ..inspections.lifecycle import approve, start, submit
from ..inspections.vocab import InspectionState
from ..oversight import followup
from ..oversight.models import FollowUpCase
from ..oversight.services import create_later_task, create_recheck_task, take_action
from ..oversight.vocab import CaseKind
from ..plans.models import Plan, Task
from ..plans.services import PlanError, officer_pool
from ..plans.vocab import TaskKind, TaskState
from .inspections import FAILING, account_for, fill_record, signature
from .plans import DEMO_CODE


def load_follow_up() -> None:
    case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.kind == CaseKind.FAIL,
                                                        FollowUpCase.state == followup.PENDING))
    if case is None or case.actions:
        return
    admin = db.session.scalar(select(User).where(User.role == "county_admin", User.unit_id == case.task.unit_id)) or \
        db.session.scalar(select(User).where(User.role == "city_admin"))
    take_action(case.id, followup.INTERVIEW, "约谈企业负责人，告知检查发现的问题", None, None, admin)
    take_action(case.id, followup.ORDER, "责令15日内完成整改并提交整改报告", date(2023, 10, 20), None, admin)
    take_action(case.id, followup.RECHECK, "复查：问题已整改到位", None, True, admin)


def _team(task_id: int, make):
    """A later or 复查 task drawn by the protocol; chosen officers when the unit's pool is too
    small after the exclusions (the demo's small units)."""
    try:
        return make(None, "演示：后续检查抽取")
    except PlanError:
        task = db.session.get(Task, task_id)
        pool = officer_pool(task.unit_id, task.plan.deadline)
        return make([o.id for o in pool[:task.plan.k]], None)


def _inspect(task, day, admin, failing=None):
    actor = account_for(task.active_officers[0].officer)
    for place in task.active_officers[1:]:
        account_for(place.officer)
    inspection = start(task.id, actor)
    db.session.flush()
    fill_record(inspection, actor, failing)
    sign_enterprise(inspection.id, "按要求整改" if failing else "无异议", task.enterprise.legal_rep or "企业代表",
                    signature(inspection.id), actor)
    submit(inspection.id, day, actor)
    approve(inspection.id, admin)
    db.session.flush()
    return inspection


def load_follow_through() -> None:
    """Issue 12 in the demo: the 停产 enterprise inspected later (the original counts as done),
    a 复查 task that failed and the licensing authority's 吊销 decision, a self-report."""
    plan = db.session.scalar(select(Plan).where(Plan.code == DEMO_CODE))
    if plan is None or db.session.scalar(select(Task.id).where(Task.plan_id == plan.id, Task.kind != TaskKind.DRAWN)):
        return

    def admin_of(task):
        return db.session.scalar(select(User).where(User.role == "county_admin", User.unit_id == task.unit_id)) or \
            db.session.scalar(select(User).where(User.role == "city_admin"))

    # 1. The 停产 record: a later inspection, done and approved.
    stopped = db.session.scalar(select(FollowUpCase).where(FollowUpCase.kind == CaseKind.NOT_INSPECTED))
    if stopped is not None:
        admin = admin_of(stopped.task)
        later = _team(stopped.task_id, lambda ids, entropy: create_later_task(stopped.task_id, ids, entropy, admin))
        _inspect(later, date(2023, 10, 16), admin)
    # 2. A 不合格 record: ordered to rectify, re-inspected as a task, still 不合格, 报请吊销, decided.
    submitted_fail = db.session.scalar(select(Inspection).join(Task, Task.id == Inspection.task_id)
                                       .where(Task.plan_id == plan.id, Inspection.state == InspectionState.SUBMITTED,
                                              Inspection.conclusion == rules.FAIL).order_by(Task.code))
    if submitted_fail is not None:
        admin = admin_of(submitted_fail.task)
        approve(submitted_fail.id, admin)
        db.session.flush()
        case = db.session.scalar(select(FollowUpCase).where(FollowUpCase.task_id == submitted_fail.task_id))
        take_action(case.id, followup.ORDER, "责令10日内完成整改", date(2023, 9, 30), None, admin)
        recheck = _team(case.task_id, lambda ids, entropy: create_recheck_task(case.id, ids, entropy, admin))
        _inspect(recheck, date(2023, 10, 9), admin, [FAILING[0]])
        take_action(case.id, followup.REVOKE, "整改复查仍不合格，报请省局吊销生产许可证", None, None, admin)
        take_action(case.id, followup.DECIDE, "", None, None, admin, decision="吊销", decided_on=date(2023, 10, 25),
                    doc_no="豫市监许吊〔2023〕7号")
    # 3. A self-report entered before the visit, on a task not yet submitted.
    open_task = db.session.scalar(select(Task).where(Task.plan_id == plan.id, Task.kind == TaskKind.DRAWN,
                                                     Task.state.in_((TaskState.PENDING, TaskState.IN_PROGRESS)))
                                  .where(Task.id.not_in(select(SelfReport.task_id))).order_by(Task.code))
    if open_task is not None:
        save_self_report(open_task.id, "企业自查报告（2023年9月）：生产许可证在有效期内，关键生产设备与发证时一致，"
                                       "出厂检验记录齐全；原材料进货查验记录第二季度有缺页，已补齐。", None,
                         admin_of(open_task))
    db.session.flush()
