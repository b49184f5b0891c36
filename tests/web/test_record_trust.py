"""Issue 11: a sealed record never changes and contradicts neither itself nor its task.

11.2 photo decoding outside the write lock, 11.5 bounded decoding (503 when busy),
11.6 a replaced officer's signature is voided, 11.7 late additions after approval,
11.10 bounded item-12 rows, 11.16 contradicting records, 11.17 the inspection date.
"""
import io
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.test_inspections import HX, fill_all, finish, jpeg_bytes, save, signature_url
from xcapp.core.timeutil import local_today, utcnow
from xcapp.extensions import db
from xcapp.inspections import rules
from xcapp.inspections.models import Answer, ExtraRow, Inspection, RecordAddition, SelfReport, Signature
from xcapp.inspections.lifecycle import compute_seal, seal_intact, seal_payload


@pytest.fixture
def crew(app, make_enterprise, make_officer, make_user):
    """A task of 魏都区 with two officers drawn from a pool of three (so one can be
    replaced), every officer linked to an inspector account; dispatched 30 days ago."""
    from xcapp.plans.models import Task
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers, freeze_plan

    make_enterprise(unit="411002", risk="高")
    officers = [make_officer(unit="411002") for _ in range(3)]
    plan = create_plan({"code": "测试〔2026〕9号", "name": "测试", "year": 2030, "ratio_low": 100, "ratio_mid": 100,
                        "ratio_midhigh": 100, "ratio_high": 100, "k": 2, "deadline": "2030-10-31", "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "t")
    dispatch_plan(plan.id)
    plan.dispatched_at = utcnow() - timedelta(days=30)
    task = db.session.scalar(select(Task))
    draw_officers(plan.id, task.unit_id, "")
    users = {}
    for i, officer in enumerate(officers):
        user = make_user("inspector", "411002", username=f"crew{i}")
        officer.user_id = user.id
        users[officer.id] = user
    db.session.commit()
    return task, users


def _start(client, auth, task, user):
    auth.login_as(user)
    assert client.post(f"/inspections/tasks/{task.id}/start").status_code == 302
    return db.session.scalar(select(Inspection).where(Inspection.task_id == task.id))


def _sign(client, inspection, officer_id):
    return client.post(f"/inspections/{inspection.id}/signatures", headers=HX,
                       data={"officer_id": officer_id, "certificate_shown": "1", "signature": signature_url()})


def _approved(client, auth, make_user, inspection, officers):
    fill_all(client, inspection)
    finish(client, inspection, officers)
    today = local_today().isoformat()
    assert client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": today}).status_code == 302
    auth.login_as(make_user("county_admin", "411002"))
    client.post(f"/inspections/{inspection.id}/approve")
    db.session.expire_all()
    inspection = db.session.get(Inspection, inspection.id)
    assert inspection.state == "approved"
    return inspection


# ------------------------------------------------------------------ 11.6

def test_replaced_officers_signature_is_voided_and_the_newcomer_must_sign(crew, client, auth, make_user):
    task, users = crew
    first, second = [o.officer for o in task.active_officers]
    inspection = _start(client, auth, task, users[first.id])
    assert _sign(client, inspection, first.id).status_code == 200
    assert _sign(client, inspection, second.id).status_code == 200

    auth.login_as(make_user("county_admin", "411002"))
    r = client.post(f"/plans/tasks/{task.id}/officers/{second.id}/replace", data={"reason": "因病请假"})
    assert r.status_code == 302
    db.session.expire_all()
    task = db.session.get(type(task), task.id)
    newcomer = next(o.officer for o in task.active_officers if o.officer_id not in (first.id, second.id))

    # The voided signature is kept, marked, and does not count.
    old = db.session.scalar(select(Signature).where(Signature.officer_id == second.id))
    assert old is not None and old.voided_at is not None and "因病请假" in old.void_reason

    auth.login_as(users[first.id])
    fill_all(client, inspection)
    for row in db.session.get(Inspection, inspection.id).equipment_rows:
        client.post(f"/inspections/{inspection.id}/equipment/{row.id}", data={"onsite_qty": "2", "status": "same"},
                    headers=HX)
    client.post(f"/inspections/{inspection.id}/equipment/confirm", headers=HX)
    client.post(f"/inspections/{inspection.id}/refusal", headers=HX,
                data={"reason": "拒绝签字", "attest": [str(first.id), str(newcomer.id)]})
    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert "已作废" in page and "因病请假" in page
    assert f"检查人员签名 1/2" in page and newcomer.name in page

    today = local_today().isoformat()
    refused = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": today},
                          follow_redirects=True)
    assert "还不能提交" in refused.get_data(as_text=True) and newcomer.name in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "draft"

    # The replaced officer can no longer sign; the newcomer can, and then it submits.
    assert _sign(client, inspection, second.id).status_code == 422
    assert _sign(client, inspection, newcomer.id).status_code == 200
    assert client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": today}).status_code == 302
    db.session.expire_all()
    sealed = db.session.get(Inspection, inspection.id)
    assert sealed.state == "submitted" and seal_intact(sealed)
    payload = seal_payload(sealed)
    assert sorted(o["cert"] for o in payload["officers"]) == sorted([first.cert_no, newcomer.cert_no])
    assert [v["cert"] for v in payload["voided_signatures"]] == [second.cert_no]

    pdf_names = [s.officer.name for s in __import__("xcapp.inspections.services", fromlist=["x"])
                 .counted_signatures(sealed)]
    assert second.name not in pdf_names and newcomer.name in pdf_names


# ------------------------------------------------------------------ 11.7

def test_after_approval_nothing_changes_in_place_and_additions_are_listed(started, client, auth, make_user):
    task, officers, users, inspection = started
    client.post(f"/inspections/tasks/{task.id}/self-report", data={"text": "企业自查：生产条件未变化。"})
    client.post(f"/inspections/{inspection.id}/self-check", data={"match": "match"}, headers=HX)
    inspection = _approved(client, auth, make_user, inspection, officers)
    seal, payload = inspection.seal_hash, seal_payload(inspection)
    report_before = (db.session.get(SelfReport, task.id).text, db.session.get(SelfReport, task.id).blob_id)
    stamp_column = inspection.stamp_blob_id

    auth.login_as(users[0])
    for _ in range(2):
        r = client.post(f"/inspections/{inspection.id}/stamp", content_type="multipart/form-data",
                        data={"photo": (io.BytesIO(jpeg_bytes((800, 600))), "s.jpg")})
        assert r.status_code == 302
    r = client.post(f"/inspections/tasks/{task.id}/self-report", data={"text": "企业补交的自查报告（盖章版）。"})
    assert r.status_code == 302

    db.session.expire_all()
    inspection = db.session.get(Inspection, inspection.id)
    assert inspection.seal_hash == seal and compute_seal(inspection) == seal and seal_payload(inspection) == payload
    assert inspection.stamp_blob_id == stamp_column
    report = db.session.get(SelfReport, task.id)
    assert (report.text, report.blob_id) == report_before
    additions = db.session.scalars(select(RecordAddition).order_by(RecordAddition.id)).all()
    assert [a.kind for a in additions] == ["stamp", "stamp", "self_report"]
    assert all(len(a.sha256) == 64 and a.added_by == users[0].username and a.added_at for a in additions)
    assert additions[0].sha256 != additions[2].sha256

    page = client.get(f"/inspections/tasks/{task.id}").get_data(as_text=True)
    assert "提交后补充的材料" in page and "企业补交的自查报告（盖章版）。" in page
    assert client.get(f"/inspections/{inspection.id}/files/{additions[0].blob_id}").status_code == 200

    auth.logout()
    public = client.get(f"/public/records/{seal[:16]}")
    body = public.get_data(as_text=True)
    assert public.status_code == 200 and "封存校验一致" in body
    assert "提交后补充的材料" in body and all(a.sha256 in body for a in additions)


# ------------------------------------------------------------------ 11.10

def test_item12_rows_and_text_are_capped_with_a_message(started, client):
    _task, _officers, _users, inspection = started
    for _ in range(rules.MAX_EXTRA_ROWS):
        assert client.post(f"/inspections/{inspection.id}/extra", headers=HX).status_code == 200
    full = client.post(f"/inspections/{inspection.id}/extra", headers=HX)
    assert full.status_code == 422 and f"最多 {rules.MAX_EXTRA_ROWS} 行" in full.get_data(as_text=True)
    assert db.session.query(ExtraRow).count() == rules.MAX_EXTRA_ROWS

    row = db.session.scalar(select(ExtraRow).order_by(ExtraRow.id))
    ok = client.post(f"/inspections/{inspection.id}/extra/{row.id}", headers=HX,
                     data={"project": "标志标识", "record": "符合细则要求", "conclusion": "conform"})
    assert ok.status_code == 200
    long = client.post(f"/inspections/{inspection.id}/extra/{row.id}", headers=HX,
                       data={"project": "标志标识", "record": "长" * (rules.MAX_ROW_RECORD + 1), "conclusion": "nonconform"})
    body = long.get_data(as_text=True)
    assert long.status_code == 422 and f"最多 {rules.MAX_ROW_RECORD} 个字" in body
    db.session.expire_all()
    row = db.session.get(ExtraRow, row.id)
    assert (row.project, row.record, row.conclusion) == ("标志标识", "符合细则要求", "conform")

    remark = save(client, inspection, 1, record="valid", remark="备" * (rules.MAX_ITEM_REMARK + 1))
    assert remark.status_code == 422 and "备注最多" in remark.get_data(as_text=True)
    assert db.session.scalar(select(Answer).where(Answer.item_no == 1)) is None
    summary = client.post(f"/inspections/{inspection.id}/summary", headers=HX, data={"summary": "汇" * 3000})
    assert summary.status_code == 422 and "问题汇总最多" in summary.get_data(as_text=True)


def test_equipment_rows_and_remarks_are_capped(started, client):
    _task, _officers, _users, inspection = started
    row = inspection.equipment_rows[0]
    r = client.post(f"/inspections/{inspection.id}/equipment/{row.id}", headers=HX,
                    data={"remark": "备" * (rules.MAX_EQUIPMENT_REMARK + 1)})
    assert r.status_code == 422 and f"最多 {rules.MAX_EQUIPMENT_REMARK} 个字" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(type(row), row.id).remark == ""
    for _ in range(rules.MAX_EQUIPMENT_ROWS - len(inspection.equipment_rows)):
        assert client.post(f"/inspections/{inspection.id}/equipment", headers=HX).status_code == 200
    full = client.post(f"/inspections/{inspection.id}/equipment", headers=HX)
    assert full.status_code == 422 and f"最多 {rules.MAX_EQUIPMENT_ROWS} 行" in full.get_data(as_text=True)
    assert len(db.session.get(Inspection, inspection.id).equipment_rows) == rules.MAX_EQUIPMENT_ROWS


def test_item12_posts_without_conclusion_never_answer_5xx(started, client):
    _task, _officers, _users, inspection = started
    for data in ({"record_present": "1"}, {}, {"remark": "x"}, {"record_present": "1", "record": "bogus"}):
        assert client.post(f"/inspections/{inspection.id}/items/12", data=data, headers=HX).status_code < 500
    client.post(f"/inspections/{inspection.id}/extra", headers=HX)
    row = db.session.scalar(select(ExtraRow))
    for data in ({"project": "a"}, {}, {"record": "b"}):
        assert client.post(f"/inspections/{inspection.id}/extra/{row.id}", data=data, headers=HX).status_code == 200
    bad = client.post(f"/inspections/{inspection.id}/extra/{row.id}", data={"conclusion": "x"}, headers=HX)
    assert bad.status_code == 422 and "结论无效" in bad.get_data(as_text=True)


# ------------------------------------------------------------------ 11.16

def test_record_and_conclusion_never_contradict_silently(started, client):
    _task, _officers, _users, inspection = started
    # The phone's form sends the checked conclusion with every tap on a record option.
    assert save(client, inspection, 3, record="exists").status_code == 200
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 3))
    assert answer.conclusion == rules.NONCONFORM
    assert save(client, inspection, 3, record="not_exists", conclusion=rules.NONCONFORM).status_code == 200
    db.session.refresh(answer)
    assert (answer.record, answer.conclusion) == ("not_exists", rules.CONFORM)

    # 存在 with 符合 needs a remark explaining why.
    save(client, inspection, 3, record="exists", conclusion=rules.CONFORM)
    db.session.refresh(answer)
    assert (answer.record, answer.conclusion) == ("exists", rules.NONCONFORM)
    refused = save(client, inspection, 3, record="exists", conclusion=rules.CONFORM)
    assert refused.status_code == 422 and "备注中说明理由" in refused.get_data(as_text=True)
    db.session.refresh(answer)
    assert answer.conclusion == rules.NONCONFORM
    assert save(client, inspection, 3, remark="超范围产品为样品试制，未销售，经核实不属于超范围生产").status_code == 200
    assert save(client, inspection, 3, record="exists", conclusion=rules.CONFORM).status_code == 200
    db.session.refresh(answer)
    assert answer.conclusion == rules.CONFORM
    cleared = save(client, inspection, 3, remark="")
    assert cleared.status_code == 422
    db.session.refresh(answer)
    assert answer.remark.startswith("超范围产品")


def test_legacy_contradiction_blocks_submit(started, client):
    _task, officers, _users, inspection = started
    fill_all(client, inspection)
    finish(client, inspection, officers)
    answer = db.session.scalar(select(Answer).where(Answer.item_no == 3))
    answer.record, answer.conclusion, answer.remark = "exists", rules.CONFORM, ""   # stored before the rule
    db.session.commit()
    r = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": local_today().isoformat()},
                    follow_redirects=True)
    assert "备注中说明理由" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "draft"


# ------------------------------------------------------------------ 11.17

def test_inspection_date_between_dispatch_and_today(started, client):
    task, officers, _users, inspection = started
    fill_all(client, inspection)
    finish(client, inspection, officers)
    dispatched = (utcnow() - timedelta(days=90)).date()      # conftest: dispatched 90 days ago
    before = (dispatched - timedelta(days=2)).isoformat()
    r = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": before}, follow_redirects=True)
    assert "不能早于任务派发日期" in r.get_data(as_text=True)
    r = client.post(f"/inspections/{inspection.id}/not-inspected", headers=HX,
                    data={"reason": "suspended", "remark": "停产", "inspection_date": "2023-10-20"})
    assert r.status_code == 422 and "不能早于任务派发日期" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "draft"
    ok = client.post(f"/inspections/{inspection.id}/submit", data={"inspection_date": local_today().isoformat()})
    assert ok.status_code == 302
    db.session.expire_all()
    assert db.session.get(Inspection, inspection.id).state == "submitted"


# ------------------------------------------------------------------ 11.2 and 11.5

def test_photo_is_decoded_without_the_write_lock(started, client, app, monkeypatch):
    """Instrumented: while the photo is decoded, another connection can take SQLite's
    write lock at once (before the fix the request held it from its first query)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database write lock")
    import xcapp.inspections.evidence as services

    path = db.engine.url.database
    seen = []
    real = services.process_photo

    def instrumented(data, *args, **kwargs):
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError:
            seen.append("locked")
        finally:
            probe.close()
        return real(data, *args, **kwargs)

    monkeypatch.setattr(services, "process_photo", instrumented)
    _task, _o, _u, inspection = started
    r = client.post(f"/inspections/{inspection.id}/photos", content_type="multipart/form-data", headers=HX,
                    data={"item_no": "3", "photo": (io.BytesIO(jpeg_bytes()), "a.jpg")})
    assert r.status_code == 200
    r = client.post(f"/inspections/{inspection.id}/photos", content_type="multipart/form-data", headers=HX,
                    data={"item_no": "0", "photo": (io.BytesIO(jpeg_bytes()), "b.jpg")})
    assert r.status_code == 200
    assert seen == ["free", "free"]


def test_busy_decoder_answers_503_please_retry(started, client, app, monkeypatch):
    from xcapp.inspections.images import decode_slot
    from xcapp.inspections.models import Photo

    monkeypatch.setitem(app.config, "PHOTO_DECODE_SLOTS", 1)
    monkeypatch.setitem(app.config, "PHOTO_DECODE_WAIT_S", 0.05)
    _task, _o, _u, inspection = started
    with decode_slot(1, 0):    # another request of this process is decoding
        r = client.post(f"/inspections/{inspection.id}/photos", content_type="multipart/form-data", headers=HX,
                        data={"item_no": "3", "photo": (io.BytesIO(jpeg_bytes()), "a.jpg")})
    assert r.status_code == 503 and "请稍后重试" in r.get_data(as_text=True)
    assert db.session.query(Photo).count() == 0
    r = client.post(f"/inspections/{inspection.id}/photos", content_type="multipart/form-data", headers=HX,
                    data={"item_no": "3", "photo": (io.BytesIO(jpeg_bytes()), "a.jpg")})
    assert r.status_code == 200 and db.session.query(Photo).count() == 1


def test_hostile_png_upload_is_refused_with_a_message(started, client):
    from tests.unit.test_images import hostile_png
    from xcapp.inspections.models import Photo

    _task, _o, _u, inspection = started
    r = client.post(f"/inspections/{inspection.id}/photos", content_type="multipart/form-data", headers=HX,
                    data={"item_no": "3", "photo": (io.BytesIO(hostile_png()), "bomb.png")})
    assert r.status_code == 422 and "MB" in r.get_data(as_text=True)
    assert db.session.query(Photo).count() == 0
