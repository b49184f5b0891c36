"""Friction found on the phone (issue 10, deliverable 7): the server-rendered facts.
The behaviour in the browser is in tests/e2e/test_friction.py."""
import re
from datetime import date, timedelta

from sqlalchemy import select

from xcapp.core.timeutil import local_today
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Answer, Inspection
from tests.web.test_inspections import HX, fill_all, finish, save


def _page(client, task, **params):
    response = client.get(f"/inspections/tasks/{task.id}", query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_item_11_none_after_has_saves_and_the_server_still_refuses_a_mix(started, client):
    task, _officers, _users, inspection = started
    assert save(client, inspection, 11, record=["has_altered", "has_other"]).status_code == 200
    mixed = save(client, inspection, 11, record=["has_altered", "none"])
    assert mixed.status_code == 422 and "不能同时选择" in mixed.get_data(as_text=True)
    stored = db.session.scalar(select(Answer).where(Answer.item_no == 11))
    assert stored.record == "has_altered,has_other"                 # the refused save changed nothing
    assert save(client, inspection, 11, record="none").status_code == 200
    db.session.refresh(stored)
    assert stored.record == "none" and stored.conclusion == rules.CONFORM
    page = _page(client, task)
    # Stable ids (focus is restored to them after a save) and no fieldset disabled during the save.
    for code in ("has_altered", "has_counterfeit", "has_other", "none"):
        assert f'id="item-11-{code}"' in page
    assert 'id="item-1-c-conform"' in page and "hx-disabled-elt" not in page
    assert re.search(r'class="save-status" id="item-1-status" role="status"', page)
    assert 'aria-label="现场检查发现的问题汇总"' in page


def test_jump_to_the_first_gap_and_every_blocker_links_to_its_part(started, client):
    task, _officers, _users, inspection = started
    save(client, inspection, 1, record="valid")
    page = _page(client, task)
    assert re.search(r'<a class="btn btn-small jump-next" href="#item-2" data-jump id="jump-next">跳到未填项</a>', page)
    blockers = page[page.index('id="blockers"'):]
    blockers = blockers[:blockers.index("</ul>")]
    for n in range(2, 13):
        assert f'<a href="#item-{n}" data-jump>第{n}项</a>' in blockers
    assert '<a href="#item-1"' not in blockers
    assert '<a href="#equipment" data-jump>关键生产设备表尚未确认</a>' in blockers
    assert '<a href="#signatures" data-jump>检查人员签名 0/2' in blockers
    assert '<a href="#enterprise" data-jump>企业尚未签字，也未记录拒绝签字</a>' in blockers
    # The fragment answered to a save carries the same links (out of band).
    body = save(client, inspection, 2, record="unchanged").get_data(as_text=True)
    assert 'href="#item-3" data-jump id="jump-next"' in body and '<a href="#item-2" data-jump>' not in body


def test_submit_shows_a_summary_and_asks_before_sealing(started, client):
    task, officers, _users, inspection = started
    officers[0].name, officers[1].name = "张建国", "李红"
    db.session.commit()
    fill_all(client, inspection, {7: "not_established"})
    finish(client, inspection, officers, refuse=False)
    page = _page(client, task)
    summary = page[page.index('id="submit-summary"'):page.index('id="submit-confirm"')]
    assert "不合格" in summary and "第7项 " + rules.ITEMS[7].short in summary
    assert re.search("张建国、李红|李红、张建国", summary) and "王喆 已签字" in summary
    assert '<dialog class="confirm" id="submit-confirm"' in page
    assert 'data-confirm-dialog="submit-confirm"' in page and 'data-dialog-confirm="submit-form"' in page
    assert "跳到未填项" not in page


def test_officers_names_not_login_names_in_submitted_and_confirmed(started, client):
    task, officers, users, inspection = started
    officers[0].name = "张建国"
    db.session.commit()
    fill_all(client, inspection)
    finish(client, inspection, officers)
    page = _page(client, task)
    assert re.search(r"已确认 [^<]* · 张建国</span>", page)
    assert client.post(f"/inspections/{inspection.id}/submit",
                       data={"inspection_date": local_today().isoformat()}).status_code == 302
    page = _page(client, task)
    assert re.search(r"已提交 [^<]* · 张建国</p>", page)
    assert f"· {users[0].username}<" not in page


def test_task_list_says_map_and_call_and_marks_overdue(task_setup, client, auth, make_user):
    task, _officers, users = task_setup
    auth.login_as(users[0])
    page = client.get("/inspections/mine").get_data(as_text=True)
    assert ">地图：许昌市测试路1号</a>" in page and re.search(r">拨打 李四 0374-1234567</a>", page)
    assert "逾期" not in page
    task.plan.deadline = local_today() - timedelta(days=3)
    db.session.commit()
    page = client.get("/inspections/mine").get_data(as_text=True)
    assert '<span class="badge badge-overdue">逾期</span>' in page and "已过 3 天" in page
    auth.login_as(make_user("county_admin", "411002"))
    detail = client.get(f"/plans/tasks/{task.id}").get_data(as_text=True)
    assert '<span class="badge badge-overdue">逾期</span>' in detail
    auth.login_as(users[0])
    task.state = "approved"                                  # done: not overdue any more
    db.session.commit()
    assert "逾期" not in client.get("/inspections/mine").get_data(as_text=True)


def _submitted(client, started):
    task, officers, _users, inspection = started
    fill_all(client, inspection)
    finish(client, inspection, officers)
    assert client.post(f"/inspections/{inspection.id}/submit",
                       data={"inspection_date": local_today().isoformat()}).status_code == 302
    return task, inspection


def test_county_admin_reviews_from_the_record_page(started, client, auth, make_user):
    task, inspection = _submitted(client, started)
    _t, _o, users, _i = started
    page = _page(client, task)
    assert 'id="review-actions"' not in page                     # not for the inspector
    auth.login_as(make_user("readonly", "411000"))
    assert 'id="review-actions"' not in _page(client, task)
    auth.login_as(make_user("county_admin", "411003"))           # another county: not its record
    assert client.get(f"/inspections/tasks/{task.id}").status_code == 404
    assert client.post(f"/inspections/{inspection.id}/approve").status_code == 404
    admin = make_user("county_admin", "411002")
    auth.login_as(admin)
    page = _page(client, task)
    actions = page[page.index('id="review-actions"'):]
    assert 'data-confirm="确认审核通过这份检查记录？' in actions and 'data-confirm="确认退回这份检查记录？' in actions
    assert f'action="/inspections/{inspection.id}/approve"' in actions
    assert f'action="/inspections/{inspection.id}/return"' in actions
    review = client.get("/inspections/review").get_data(as_text=True)
    assert 'data-confirm="确认审核通过 许昌喆堃电缆有限公司 的检查记录？' in review
    assert client.post(f"/inspections/{inspection.id}/approve").status_code == 302
    db.session.refresh(inspection)
    assert inspection.state == "approved"
    assert 'id="review-actions"' not in _page(client, task)       # nothing left to review


def test_favicon_answers_and_is_linked(client, make_user, auth):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"               # an ICO file
    page = client.get("/auth/login").get_data(as_text=True)
    assert re.search(r'<link rel="icon" href="/static/favicon.svg\?v=\w+" type="image/svg\+xml">', page)
    assert client.get("/static/favicon.svg").status_code == 200
