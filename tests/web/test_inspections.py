"""一企两表 on the phone: items, conclusion rule, equipment, photos, signatures, submit, seal, review."""
import base64
import io
import json
import re
import threading

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select, text

from xcapp.audit.services import verify_chain
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Answer, Inspection, Photo, SaveReceipt
from xcapp.inspections.lifecycle import compute_seal, seal_intact
from xcapp.plans.models import Task

HX = {"HX-Request": "true"}


def signature_url():
    img = Image.new("RGBA", (320, 120), (255, 255, 255, 0))
    ImageDraw.Draw(img).line([(10, 60), (120, 20), (200, 100), (300, 40)], fill=(0, 0, 0, 255), width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def jpeg_bytes(size=(2400, 1800)):
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 160, 200)).save(buf, "JPEG")
    return buf.getvalue()


def save(client, inspection, item_no, record=None, conclusion=None, remark=None, htmx=True, **extra):
    data = {"record_present": "1"} if record is not None else {}
    if record is not None:
        data["record"] = record
    if conclusion is not None:
        data["conclusion"] = conclusion
    if remark is not None:
        data["remark"] = remark
    data.update(extra)
    return client.post(f"/inspections/{inspection.id}/items/{item_no}", data=data, headers=HX if htmx else {})


PASSING = {1: "valid", 2: "unchanged", 3: "not_exists", 4: "marked", 5: "valid", 6: "tested_archived",
           7: "established_executed", 8: "yes", 9: "conform", 10: "none", 11: "none"}


def fill_all(client, inspection, override=None):
    answers = {**PASSING, **(override or {})}
    for no, code in answers.items():
        assert save(client, inspection, no, record=code).status_code == 200
    assert save(client, inspection, 12, record=rules.NO_EXTRA_ITEMS, conclusion="").status_code == 200


def finish(client, inspection, officers, refuse=True):
    for row in inspection.equipment_rows:
        client.post(f"/inspections/{inspection.id}/equipment/{row.id}", data={"onsite_qty": "2", "status": "same"},
                    headers=HX)
    assert client.post(f"/inspections/{inspection.id}/equipment/confirm", headers=HX).status_code == 200
    for officer in officers:
        r = client.post(f"/inspections/{inspection.id}/signatures", headers=HX,
                        data={"officer_id": officer.id, "certificate_shown": "1", "signature": signature_url()})
        assert r.status_code == 200, r.get_data(as_text=True)
    if refuse:
        r = client.post(f"/inspections/{inspection.id}/refusal", headers=HX,
                        data={"reason": "法定代表人称需请示总公司，拒绝签字", "attest": [str(o.id) for o in officers]})
        assert r.status_code == 200
    else:
        r = client.post(f"/inspections/{inspection.id}/enterprise", headers=HX,
                        data={"opinion": "无异议", "representative": "王喆", "signature": signature_url()})
        assert r.status_code == 200


def test_item_definitions_verbatim_and_rule():
    assert len(rules.ITEMS) == 11 and rules.ITEMS[1].text == "营业执照是否有效，生产许可证是否在有效期内"
    answers = {n: rules.AnswerValue(code, rules.proposed_conclusion(n, code)) for n, code in PASSING.items()}
    answers[12] = rules.AnswerValue(rules.NO_EXTRA_ITEMS, None)
    assert rules.overall_conclusion(answers) == rules.PASS
    answers[6] = rules.AnswerValue("records_incomplete", rules.NONCONFORM)
    assert rules.overall_conclusion(answers) == rules.FAIL


def test_checklist_page_full_and_items_as_fragments(started, client):
    task, _officers, _users, inspection = started
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert "<html" in page and "已填 <strong>0/12</strong>" in page
    for item in rules.ITEMS.values():
        assert item.text in page
    assert "挤塑机" in page and "关键生产设备表" in page
    for no in range(1, 13):
        full = client.get(f"/inspections/{inspection.id}/items/{no}")
        assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
        fragment = client.get(f"/inspections/{inspection.id}/items/{no}", headers=HX).get_data(as_text=True)
        assert "<html" not in fragment and f'id="item-{no}"' in fragment
    assert client.get(f"/inspections/{inspection.id}/items/13").status_code == 404


def test_tapping_an_option_saves_and_proposes_conclusion(started, client):
    _task, _o, _u, inspection = started
    response = save(client, inspection, 1, record="expired")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and "已保存" in body
    assert 'hx-swap-oob="true"' in body and "已填 <strong>1/12</strong>" in body
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 1))
    assert answer.record == "expired" and answer.conclusion == rules.NONCONFORM
    # The officer may override; a new record then keeps the chosen conclusion.
    save(client, inspection, 1, record="valid")
    db.session.refresh(answer)
    assert answer.conclusion == rules.CONFORM
    save(client, inspection, 4, conclusion="na")
    assert db.session.scalar(select(Answer).where(Answer.item_no == 4)).conclusion == "na"
    bad = save(client, inspection, 1, conclusion="na")
    assert bad.status_code == 422 and "不适用" in bad.get_data(as_text=True) or bad.status_code == 422


def test_nested_options_items_10_and_11(started, client):
    _task, _o, _u, inspection = started
    save(client, inspection, 10, record="has_unhandled")
    assert db.session.scalar(select(Answer).where(Answer.item_no == 10)).conclusion == rules.NONCONFORM
    save(client, inspection, 11, record=["has_altered", "has_other"])
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 11))
    assert set(answer.record.split(",")) == {"has_altered", "has_other"} and answer.conclusion == rules.NONCONFORM
    assert save(client, inspection, 11, record=["has_altered", "none"]).status_code == 422


def test_one_nonconformity_gives_fail_and_summary(started, client):
    _task, _o, _u, inspection = started
    fill_all(client, inspection, {6: "records_incomplete"})
    save(client, inspection, 6, remark="2023年8月批次出厂检验记录缺失")
    page = client.get(f"/inspections/tasks/{inspection.task_id}").get_data(as_text=True)
    assert "已填 <strong>12/12</strong>" in page and "☑不合格" in page
    assert "第6项 出厂检验及记录存档：检验记录不全；2023年8月批次出厂检验记录缺失" in page


def test_idempotent_saves(started, client):
    _task, _o, _u, inspection = started
    first = save(client, inspection, 3, record="exists", save_key="k-1")
    again = save(client, inspection, 3, record="exists", save_key="k-1")  # a retry of the same save
    assert first.status_code == again.status_code == 200
    assert "X-Saved-At" in again.headers
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 3))
    assert answer.record == "exists" and answer.version == 1
    assert db.session.scalar(select(func.count()).select_from(SaveReceipt)) == 1
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 1


def test_a_key_reused_for_other_content_is_refused(started, client):
    """Found bug 5: a known key carrying newer text was answered as a replay and the
    newer text was never stored. Same key + other content: 409, nothing changes."""
    _task, _o, _u, inspection = started
    assert save(client, inspection, 3, remark="第一版", save_key="k-r").status_code == 200
    reused = save(client, inspection, 3, remark="第一版，补充后的文字", save_key="k-r")
    assert reused.status_code == 409 and reused.headers.get("X-Save-Key-Reused") == "1"
    assert "编号" in reused.get_data(as_text=True)
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 3))
    assert answer.remark == "第一版" and answer.version == 1
    fresh = save(client, inspection, 3, remark="第一版，补充后的文字", save_key="k-r2")
    assert fresh.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Answer).where(Answer.item_no == 3)).remark == "第一版，补充后的文字"
    # a key of one target is not a key of another
    other = save(client, inspection, 4, remark="第一版", save_key="k-r")
    assert other.status_code == 409


def test_photo_keys_are_bound_to_the_file(started, client):
    _task, _o, _u, inspection = started
    path = f"/inspections/{inspection.id}/photos"

    def post(data, key):
        return client.post(path, data={"item_no": "6", "save_key": key, "photo": (io.BytesIO(data), "p.jpg")},
                           headers=HX, content_type="multipart/form-data")

    one, two = jpeg_bytes((800, 600)), jpeg_bytes((640, 480))
    assert post(one, "p-1").status_code == 200
    assert post(one, "p-1").status_code == 200          # a retry: stored once
    assert post(two, "p-1").status_code == 409          # another photo under the old key: refused
    assert post(two, "p-2").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 2


def test_keyed_writes_without_a_service_key_replay_once(started, client):
    """Signatures, refusal, summary, submit: the route records the key; a replay of the
    same content changes nothing, other content under the key is refused."""
    _task, officers, _u, inspection = started
    path = f"/inspections/{inspection.id}/signatures"
    data = {"officer_id": str(officers[0].id), "certificate_shown": "1", "signature": signature_url(), "save_key": "s-1"}
    assert client.post(path, data=data, headers=HX).status_code == 200
    assert client.post(path, data=data, headers=HX).status_code == 200
    db.session.expire_all()
    assert len(db.session.get(Inspection, inspection.id).signatures) == 1
    assert db.session.scalar(select(func.count()).select_from(SaveReceipt)) == 1
    summary = f"/inspections/{inspection.id}/summary"
    assert client.post(summary, data={"summary": "甲", "save_key": "m-1"}, headers=HX).status_code == 200
    assert client.post(summary, data={"summary": "乙", "save_key": "m-1"}, headers=HX).status_code == 409
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).problem_summary == "甲"


def test_submit_from_the_sync_queue(started, client):
    """An offline submit arrives as an htmx request: refused with the reason (the record
    stays a draft), or sealed with a redirect to the record."""
    _task, officers, _u, inspection = started
    path = f"/inspections/{inspection.id}/submit"
    refused = client.post(path, data={"inspection_date": "", "save_key": "sub-1"}, headers=HX)
    assert refused.status_code == 422 and "还不能提交" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "draft"
    fill_all(client, inspection)
    finish(client, inspection, officers)
    sealed = client.post(path, data={"inspection_date": "", "save_key": "sub-2"}, headers=HX)
    assert sealed.status_code == 200 and sealed.headers["HX-Redirect"].endswith("#submit-box")
    again = client.post(path, data={"inspection_date": "", "save_key": "sub-2"}, headers=HX)   # a lost response
    assert again.status_code == 200 and "HX-Redirect" in again.headers
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "submitted"


def test_two_officers_never_overwrite_silently(started, client, app, auth):
    _task, _o, users, inspection = started
    save(client, inspection, 5, record="valid", base_version=0)
    other = app.test_client()
    with other.session_transaction() as sess:
        sess["_user_id"] = users[1].get_id()
    stale = other.post(f"/inspections/{inspection.id}/items/5", headers=HX,
                       data={"record_present": "1", "record": "invalid", "base_version": "0"})
    assert stale.status_code == 409
    assert "刚刚修改了此项" in stale.get_data(as_text=True)
    assert db.session.scalar(select(Answer).where(Answer.item_no == 5)).record == "valid"
    fresh = other.post(f"/inspections/{inspection.id}/items/5", headers=HX,
                       data={"record_present": "1", "record": "invalid", "base_version": "1"})
    assert fresh.status_code == 200
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 5))
    assert answer.record == "invalid" and answer.updated_by == users[1].username


def test_concurrent_saves_of_different_items_all_land(started, app):
    _task, _o, users, inspection = started
    errors = []

    def worker(user_id, items):
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = user_id
        for no in items:
            r = client.post(f"{url}{no}", headers=HX,
                            data={"record_present": "1", "record": PASSING[no]})
            if r.status_code != 200:
                errors.append((no, r.status_code))

    ids = [u.get_id() for u in users]
    url = f"/inspections/{inspection.id}/items/"
    db.session.commit()  # the test's own transaction must not hold SQLite's write lock
    threads = [threading.Thread(target=worker, args=(ids[0], [1, 2, 3, 4, 5])),
               threading.Thread(target=worker, args=(ids[1], [6, 7, 8, 9, 10, 11]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 11
    assert verify_chain().ok


def test_submit_preconditions_and_seal(started, client):
    task, officers, _u, inspection = started
    fill_all(client, inspection)
    blocked = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2026-11-01"})
    assert blocked.status_code == 302
    db.session.refresh(inspection)
    assert inspection.state == "draft"
    finish(client, inspection, officers, refuse=True)
    future = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2099-01-01"})
    db.session.refresh(inspection)
    assert future.status_code == 302 and inspection.state == "draft"
    client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2026-11-01", "lat": "34.03",
                                                              "lon": "113.85", "accuracy": "20"})
    db.session.refresh(inspection)
    assert inspection.state == "submitted" and inspection.conclusion == rules.PASS
    assert inspection.seal_hash and seal_intact(inspection) and inspection.geo_lat == 34.03
    assert db.session.get(Task, task.id).state == "submitted"
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert inspection.seal_hash in page
    # Nothing can be edited after submit.
    assert save(client, inspection, 1, record="expired").status_code == 409
    # Any change to a stored answer after submit is detected.
    db.session.execute(text("UPDATE answer SET record = 'expired' WHERE item_no = 1"))
    db.session.commit()
    db.session.expire_all()
    assert not seal_intact(db.session.get(Inspection, inspection.id))


def test_photo_validation_and_storage(started, client):
    _task, _o, _u, inspection = started
    ok = client.post(f"/inspections/{inspection.id}/photos", headers=HX, content_type="multipart/form-data",
                     data={"item_no": "4", "photo": (io.BytesIO(jpeg_bytes()), "p.jpg")})
    assert ok.status_code == 200 and "第4项照片" in ok.get_data(as_text=True)
    photo = db.session.scalar(select(Photo))
    stored = Image.open(io.BytesIO(client.get(f"/inspections/photos/{photo.id}").data))
    assert max(stored.size) == 1600
    bad = client.post(f"/inspections/{inspection.id}/photos", headers=HX, content_type="multipart/form-data",
                      data={"item_no": "4", "photo": (io.BytesIO(b"not an image at all"), "p.jpg")})
    assert bad.status_code == 422 and "图片" in bad.get_data(as_text=True)
    big = client.post(f"/inspections/{inspection.id}/photos", headers=HX, content_type="multipart/form-data",
                      data={"item_no": "4", "photo": (io.BytesIO(b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 10)), "p.jpg")})
    assert big.status_code in (413, 422)
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


def test_not_inspected_recorded_and_sealed(started, client):
    task, _o, _u, inspection = started
    refused = client.post(f"/inspections/{inspection.id}/not-inspected", headers=HX,
                          data={"reason": "", "remark": ""})
    assert refused.status_code == 422
    r = client.post(f"/inspections/{inspection.id}/not-inspected", headers=HX,
                    data={"reason": "suspended", "remark": "厂区大门上锁，门卫称已停产半年", "inspection_date": "2026-11-02"})
    assert r.status_code == 200
    db.session.refresh(inspection)
    assert inspection.state == "submitted" and inspection.not_inspected_reason == "suspended" and seal_intact(inspection)


def test_review_approve_and_return_keeps_sealed_revision(started, client, auth, make_user):
    task, officers, users, inspection = started
    fill_all(client, inspection, {3: "exists"})
    finish(client, inspection, officers, refuse=False)
    client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2026-11-01"})
    db.session.refresh(inspection)
    seal = inspection.seal_hash
    auth.login_as(make_user("county_admin", "411081"))
    assert client.get("/inspections/review").get_data(as_text=True).count("review-") == 0
    assert client.post(f"/inspections/{inspection.id}/return", data={"reason": "x"}).status_code == 404
    auth.login_as(make_user("county_admin", "411002"))
    assert "封存校验一致" in client.get("/inspections/review").get_data(as_text=True)
    client.post(f"/inspections/{inspection.id}/return", data={"reason": ""})
    db.session.refresh(inspection)
    assert inspection.state == "submitted"
    client.post(f"/inspections/{inspection.id}/return", data={"reason": "第3项备注不清楚"})
    db.session.expire_all()
    old = db.session.get(Inspection, inspection.id)
    new = db.session.scalar(select(Inspection).where(Inspection.revision == 2))
    assert old.state == "returned" and old.seal_hash == seal and seal_intact(old)
    assert new.state == "draft" and new.answer(3).record == "exists"
    assert db.session.get(Task, task.id).state == "returned"
    readable = client.get(f"/inspections/tasks/{task.id}?revision=1").get_data(as_text=True)
    assert seal in readable
    # The officer re-signs and resubmits; the admin approves. The new revision is
    # started (only records prepared for offline use wait for 开始检查).
    auth.login_as(users[0])
    assert new.started_at is not None
    assert 'id="start-form"' not in client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    finish(client, new, officers, refuse=True)
    client.post(f"/inspections/{new.id}/submit", data={"inspection_date": "2026-11-03"})
    auth.login_as(make_user("county_admin", "411002"))
    client.post(f"/inspections/{new.id}/approve")
    db.session.expire_all()
    assert db.session.get(Inspection, new.id).state == "approved" and db.session.get(Task, task.id).state == "approved"
    assert verify_chain().ok


def test_only_assigned_officers_fill(task_setup, client, auth, make_user):
    task, _officers, _users = task_setup
    stranger = make_user("inspector", "411002", username="stranger")
    auth.login_as(stranger)
    assert client.get(f"/inspections/tasks/{task.id}").status_code == 404
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 404
    auth.login_as(make_user("county_admin", "411002"))
    assert client.get(f"/inspections/tasks/{task.id}").status_code == 200
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 403


def test_my_tasks_lists_map_call_and_partner(task_setup, client, auth):
    task, officers, users = task_setup
    auth.login_as(users[0])
    page = client.get("/inspections/mine").get_data(as_text=True)
    assert task.enterprise.name in page and "tel:" in page and "uri.amap.com" in page
    assert officers[1].name in page


def test_self_report_and_stamp(started, client):
    task, officers, _u, inspection = started
    r = client.post(f"/inspections/tasks/{task.id}/self-report", data={"text": "企业自查：生产条件未变化。"})
    assert r.status_code == 302
    fake = client.post(f"/inspections/tasks/{task.id}/self-report", content_type="multipart/form-data",
                       data={"text": "x", "file": (io.BytesIO(b"MZ\x90\x00"), "report.pdf")})
    assert fake.status_code == 302
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert "企业自查：生产条件未变化。" in page
    client.post(f"/inspections/{inspection.id}/self-check", data={"match": "match"}, headers=HX)
    fill_all(client, inspection)
    finish(client, inspection, officers)
    early = client.post(f"/inspections/{inspection.id}/stamp", content_type="multipart/form-data",
                        data={"photo": (io.BytesIO(jpeg_bytes((800, 600))), "s.jpg")})
    db.session.refresh(inspection)
    assert early.status_code == 302 and not inspection.additions
    client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": "2026-11-01"})
    client.post(f"/inspections/{inspection.id}/stamp", content_type="multipart/form-data",
                data={"photo": (io.BytesIO(jpeg_bytes((800, 600))), "s.jpg")})
    db.session.refresh(inspection)
    # 11.7: the stamp photo is a late addition, never a change of the sealed record
    assert [a.kind for a in inspection.additions] == ["stamp"] and seal_intact(inspection)
    assert json.loads(json.dumps({"seal": compute_seal(inspection)}))
    assert re.search(r"盖章页照片", client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True))


def test_prepared_record_is_started_by_the_tap_or_the_first_write(app, client, task_setup, auth):
    """Records prepared for offline use (开始检查 offline, issue 10) stay not started until
    the officer's tap or first write reaches the server; only the officer's own 待检查
    tasks are prepared, once."""
    from xcapp.audit.models import AuditLog
    from xcapp.inspections.models import Inspection

    task, officers, users = task_setup
    auth.login_as(users[0])
    assert client.post("/inspections/mine/prepare").get_json() == {"prepared": [task.id]}
    assert client.post("/inspections/mine/prepare").get_json() == {"prepared": []}
    inspection = db.session.scalar(select(Inspection).where(Inspection.task_id == task.id))
    assert inspection.started_at is None and len(inspection.equipment_rows) == 2   # pre-filled as by 开始检查
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert 'id="start-form"' in page and 'id="checklist-body" hidden' in page
    # The first write starts it (the queued tap may arrive later); the tap changes nothing then.
    r = client.post(f"/inspections/{inspection.id}/items/1", data={"record_present": "1", "record": "valid"},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).started_at is not None
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.object_type == "inspection")).all()
    assert actions.count("inspection.prepared") == 1 and actions.count("inspection.started") == 1
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert 'id="start-form"' not in page and 'id="checklist-body">' in page


def test_rows_added_on_the_phone_are_addressed_by_their_reference(started, client):
    """Item-12 and equipment rows added without network (issue 10): the add carries the
    phone's reference, the row's queued saves address it by that reference, a repeated
    add changes nothing, and a malformed or unknown reference is refused."""
    from xcapp.inspections.models import EquipmentRow, ExtraRow

    task, officers, users, inspection = started
    hx = {"HX-Request": "true"}
    ref = "00112233aabbccdd"
    assert client.post(f"/inspections/{inspection.id}/extra", data={"client_ref": ref, "save_key": "k1"},
                       headers=hx).status_code == 200
    # the same add again (its answer was lost, a new key): still one row
    assert client.post(f"/inspections/{inspection.id}/extra", data={"client_ref": ref, "save_key": "k2"},
                       headers=hx).status_code == 200
    rows = db.session.scalars(select(ExtraRow).where(ExtraRow.inspection_id == inspection.id)).all()
    assert [r.client_ref for r in rows] == [ref]
    r = client.post(f"/inspections/{inspection.id}/extra/ref/{ref}",
                    data={"project": "绝缘电阻", "record": "抽查 3 盘", "conclusion": "conform", "save_key": "k3"},
                    headers=hx)
    assert r.status_code == 200
    db.session.expire_all()
    row = db.session.get(ExtraRow, rows[0].id)
    assert (row.project, row.record, row.conclusion) == ("绝缘电阻", "抽查 3 盘", "conform")
    assert client.post(f"/inspections/{inspection.id}/extra/ref/ffffffffffffffff", data={"project": "x"},
                       headers=hx).status_code == 404
    r = client.post(f"/inspections/{inspection.id}/extra", data={"client_ref": "../../x", "save_key": "k4"},
                    headers=hx)
    assert r.status_code == 422 and "编号无效" in r.get_data(as_text=True)
    assert client.post(f"/inspections/{inspection.id}/extra/ref/{ref}/delete", headers=hx).status_code == 200
    assert db.session.scalars(select(ExtraRow).where(ExtraRow.inspection_id == inspection.id)).all() == []

    before = len(db.session.scalars(select(EquipmentRow).where(EquipmentRow.inspection_id == inspection.id)).all())
    r = client.post(f"/inspections/{inspection.id}/equipment", data={"client_ref": ref, "save_key": "k5"}, headers=hx)
    assert r.status_code == 200 and 'id="equipment-status" hx-swap-oob="true"' in r.get_data(as_text=True)
    r = client.post(f"/inspections/{inspection.id}/equipment/ref/{ref}",
                    data={"name": "拉丝机", "model": "LH-450", "onsite_qty": "1", "save_key": "k6"}, headers=hx)
    assert r.status_code == 200
    added = db.session.scalar(select(EquipmentRow).where(EquipmentRow.client_ref == ref))
    assert (added.name, added.model, added.onsite_qty, added.from_licence) == ("拉丝机", "LH-450", 1, False)
    assert len(db.session.scalars(select(EquipmentRow)
                                  .where(EquipmentRow.inspection_id == inspection.id)).all()) == before + 1
    # The page carries the templates the phone draws new rows from, with the reference placeholder.
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert '<template id="extra-row-template">' in page and '<template id="equipment-row-template">' in page
    assert f"/inspections/{inspection.id}/extra/ref/__ref__" in page
    assert f"/inspections/{inspection.id}/equipment/ref/__ref__" in page



def test_opening_my_tasks_with_nothing_to_prepare_takes_no_write_lock(app, client, task_setup, auth):
    """The phone asks for preparation on every visit of 我的任务: on SQLite the request
    takes the database's write lock only when it prepares a record."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database write lock")
    from sqlalchemy import event

    task, officers, users = task_setup
    auth.login_as(users[0])
    assert client.post("/inspections/mine/prepare").get_json() == {"prepared": [task.id]}
    begins = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.strip().upper().startswith("BEGIN"):
            begins.append(statement.strip().upper())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.post("/inspections/mine/prepare").get_json() == {"prepared": []}
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert begins and "BEGIN IMMEDIATE" not in begins
