from sqlalchemy import func, select

from xcapp.audit.models import AuditLog
from xcapp.auth.models import User
from xcapp.extensions import db


def _count():
    return db.session.scalar(select(func.count()).select_from(User))


def test_create_user_asks_password(runner):
    result = runner.invoke(args=["users", "create", "zhang", "--role", "county_admin", "--unit", "411002"],
                           input="secret-pass-1\nsecret-pass-1\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "zhang"))
    assert user.role == "county_admin" and user.unit.code == "411002"
    assert user.check_password("secret-pass-1")
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.created"))


def test_unknown_role_or_unit_writes_nothing(runner):
    before = _count()
    bad_role = runner.invoke(args=["users", "create", "x1", "--role", "boss", "--unit", "411002"],
                             input="secret-pass-1\nsecret-pass-1\n")
    assert bad_role.exit_code != 0 and "未知角色" in bad_role.output
    bad_unit = runner.invoke(args=["users", "create", "x2", "--role", "inspector", "--unit", "999999"],
                             input="secret-pass-1\nsecret-pass-1\n")
    assert bad_unit.exit_code != 0 and "未知单位代码" in bad_unit.output
    wrong_level = runner.invoke(args=["users", "create", "x3", "--role", "city_admin", "--unit", "411002"],
                                input="secret-pass-1\nsecret-pass-1\n")
    assert wrong_level.exit_code != 0
    short = runner.invoke(args=["users", "create", "x4", "--role", "inspector", "--unit", "411002"],
                          input="short\nshort\n")
    assert short.exit_code != 0 and "密码至少" in short.output
    db.session.expire_all()
    assert _count() == before
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_duplicate_username_refused(runner, make_user):
    make_user("inspector", "411002", username="dup")
    result = runner.invoke(args=["users", "create", "dup", "--role", "inspector", "--unit", "411002"],
                           input="secret-pass-1\nsecret-pass-1\n")
    assert result.exit_code != 0 and "已存在" in result.output


def test_set_password(runner, make_user):
    make_user("inspector", "411002", username="li")
    result = runner.invoke(args=["users", "set-password", "li"], input="new-pass-123\nnew-pass-123\n")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "li")).check_password("new-pass-123")
    missing = runner.invoke(args=["users", "set-password", "nobody"], input="new-pass-123\nnew-pass-123\n")
    assert missing.exit_code != 0 and "用户不存在" in missing.output


def test_end_sessions_and_unlock(runner, make_user, client, auth):
    from datetime import timedelta

    from xcapp.auth.models import LoginFailure

    make_user("inspector", "411002", username="wang")
    auth.login("wang")
    assert client.get("/home").status_code == 200
    result = runner.invoke(args=["users", "end-sessions", "wang"])
    assert result.exit_code == 0, result.output
    assert client.get("/home").status_code == 302
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.sessions_ended"))
    for _ in range(5):
        auth.login("wang", "wrong-password")
    assert auth.login("wang").status_code == 429
    result = runner.invoke(args=["users", "unlock", "wang"])
    assert result.exit_code == 0 and "清除 5 次" in result.output
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "user.unlocked"))
    assert auth.login("wang").status_code == 302
    for command in ("end-sessions", "unlock"):
        missing = runner.invoke(args=["users", command, "nobody"])
        assert missing.exit_code != 0 and "用户不存在" in missing.output
