from sqlalchemy import func, select

from xcapp.auth.models import User
from xcapp.demo import DEMO_ACCOUNTS
from xcapp.extensions import db


def test_demo_load_is_idempotent_and_every_login_works(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "演示账号" in first.output
    count = db.session.scalar(select(func.count()).select_from(User))
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == count == len(DEMO_ACCOUNTS)
    # The same passwords are printed both times, and each one logs in.
    from xcapp.demo import read_accounts

    accounts = read_accounts()
    assert {a["username"] for a in accounts} == {a[0] for a in DEMO_ACCOUNTS}
    for account in accounts:
        assert f"{account['username']}" in second.output and account["password"] in second.output
        client = app.test_client()
        response = client.post("/auth/login", data={"username": account["username"], "password": account["password"]})
        assert response.status_code == 302, account["username"]
        assert client.get("/home").status_code == 200


def test_demo_load_if_empty_skips_populated_database(app, runner, make_user):
    make_user("city_admin", username="existing")
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "跳过" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
