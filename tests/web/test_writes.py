"""core.writes.write(): the one write path of the routes (issue 14.2)."""
from datetime import date

import pytest
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from xcapp.auth.services import AccountError
from xcapp.core.writes import write
from xcapp.db_setup import _begin_statement
from xcapp.extensions import db
from xcapp.inspections.services import InspectionError
from xcapp.plans.services import PlanError
from xcapp.publicity.models import WorkdayOverride
from xcapp.publicity.services import PublicityError, set_override
from xcapp.registry.services import RegistryError

DAY = date(2031, 5, 6)
LATE_LOCK_URL = "/registry/import"          # registry.import_upload is marked late_write_lock
PLAIN_URL = "/publicity/workdays"


class NameForm(FlaskForm):
    name = StringField()
    username = StringField()


def _stored() -> bool:
    db.session.rollback()
    return db.session.get(WorkdayOverride, DAY) is not None


def test_success_commits_then_flashes(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        with write(PublicityError, success="已保存。") as w:
            set_override(DAY, "休", "")
        assert w.ok and w.status == 200 and w.error is None
        assert get_flashed_messages(with_categories=True) == [("success", "已保存。")]
    assert _stored()


def test_refusal_rolls_back_and_flashes_its_message(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        with write(PublicityError, success="已保存。") as w:
            set_override(DAY, "休", "")
            raise PublicityError("本年度已锁定")
        assert not w.ok and w.status == 422 and isinstance(w.error, PublicityError)
        assert get_flashed_messages(with_categories=True) == [("error", "本年度已锁定")]
    assert not _stored()


def test_refusal_keeps_its_own_status_and_can_stay_unflashed(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        with write(InspectionError, flash=False) as w:
            raise InspectionError("另一位检查人员刚保存了新内容", 409)
        assert w.status == 409 and w.message == "另一位检查人员刚保存了新内容"
        assert get_flashed_messages() == []


def test_form_gets_field_errors_and_the_rest_is_flashed(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        form = NameForm()
        with write(RegistryError, form=form) as w:
            raise RegistryError({"name": "名称已存在", "category": "类别无效"})
        assert form.name.errors == ["名称已存在"]
        assert get_flashed_messages(with_categories=True) == [("error", "类别无效")]
        assert w.errors == {"name": "名称已存在", "category": "类别无效"} and w.message == "名称已存在；类别无效"


def test_a_refusal_naming_no_field_goes_under_the_given_field(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        form = NameForm()
        with write(AccountError, form=form, field="username"):
            raise AccountError("用户名已存在")
        assert form.username.errors == ["用户名已存在"] and not form.name.errors
        assert get_flashed_messages() == []


@pytest.mark.parametrize("details, flashed", [(False, "计划信息有误"), (True, "计划信息有误：年度无效")])
def test_details_add_the_field_messages_to_the_flash(app, details, flashed):
    with app.test_request_context(PLAIN_URL, method="POST"):
        with write(PlanError, details=details):
            raise PlanError("计划信息有误", {"year": "年度无效"})
        assert get_flashed_messages() == [flashed]


def test_other_errors_propagate_unflashed(app):
    with app.test_request_context(PLAIN_URL, method="POST"):
        with pytest.raises(KeyError):
            with write(PublicityError, success="已保存。"):
                raise KeyError("bug")
        assert get_flashed_messages() == []


def test_a_failed_commit_leaves_no_success_message(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def locked():
        raise OperationalError("COMMIT", {}, Exception("database is locked"))

    with app.test_request_context(PLAIN_URL, method="POST"):
        monkeypatch.setattr(db.session, "commit", locked)
        with pytest.raises(OperationalError):
            with write(PublicityError, success="已保存。"):
                set_override(DAY, "休", "")
        assert get_flashed_messages() == []
        monkeypatch.undo()
    assert not _stored()


@pytest.mark.parametrize("url, after", [(LATE_LOCK_URL, "BEGIN"), (PLAIN_URL, "BEGIN IMMEDIATE")])
def test_a_refusal_under_late_write_lock_leaves_the_request_read_only(app, url, after):
    """As after a commit: showing the refusal must not wait for SQLite's write lock again."""
    from flask import g

    with app.test_request_context(url, method="POST"):
        g._xcapp_writing = True        # as lock_row() leaves it once the write began
        assert _begin_statement() == "BEGIN IMMEDIATE"
        with write(PublicityError):
            raise PublicityError("不行")
        assert _begin_statement() == after
