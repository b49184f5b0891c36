"""The demo shows the campaign to its end (issue 12.8): a later inspection done, a 复查 that
failed with the licensing authority's decision, a self-report, confirmed and late publication."""
from sqlalchemy import select

from xcapp.extensions import db


def test_demo_covers_the_follow_through(app, runner):
    # The load itself imports and runs every step of xcapp.demo.demo_steps().
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    from xcapp.inspections.models import SelfReport
    from xcapp.oversight.models import FollowUpCase
    from xcapp.oversight.services import facts
    from xcapp.demo.plans import DEMO_CODE
    from xcapp.plans.models import Plan, Task
    from xcapp.publicity.models import Publication
    from xcapp.auth.models import User

    reader = db.session.scalar(select(User).where(User.role == "readonly"))
    later = db.session.scalar(select(Task).where(Task.kind == "later"))
    assert later is not None and later.state == "approved"
    plan = db.session.scalar(select(Plan).where(Plan.code == DEMO_CODE))
    original = next(i for i in facts(plan, reader) if i.task.id == later.origin_task_id)
    assert {"done", "inspected", "later_done"} <= original.metrics
    decided = db.session.scalar(select(FollowUpCase).where(FollowUpCase.decision == "吊销"))
    assert decided is not None and decided.state == "closed" and decided.recheck_task.state == "approved"
    assert any(a.action == "recheck" and a.recheck_passed is False for a in decided.actions)
    assert decided.task.enterprise.licence_state == "吊销"
    assert db.session.scalar(select(SelfReport.task_id)) is not None
    confirmed = db.session.scalars(select(Publication).where(Publication.confirmed_on.is_not(None))).all()
    assert confirmed
    metrics = set().union(*(i.metrics for i in facts(plan, reader)))
    assert {"published_on_time", "published_late"} <= metrics
    from xcapp.audit.services import verify_chain

    assert verify_chain().ok
    assert runner.invoke(args=["demo", "load"]).exit_code == 0      # idempotent
    assert db.session.scalar(select(db.func.count()).select_from(Task).where(Task.kind == "later")) == 1
