"""Issue 11.14: rejected and never-confirmed import files (personal data) are deleted
after a configurable number of days by `flask --app wsgi purge`; the problem list stays."""
import io
import json
from datetime import timedelta

from sqlalchemy import select

from xcapp.audit.models import AuditLog
from xcapp.audit.services import verify_chain
from xcapp.core.timeutil import utcnow
from xcapp.extensions import db
from xcapp.registry.models import ImportBatch

from .test_import import csv_bytes, row


def _upload(client, data, name="e.csv"):
    return client.post("/registry/import", data={"kind": "enterprises", "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _batches():
    db.session.expire_all()
    return db.session.scalars(select(ImportBatch).order_by(ImportBatch.id)).all()


def _age(batch_id, days):
    db.session.get(ImportBatch, batch_id).created_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_purge_deletes_old_rejected_and_unconfirmed_files_but_keeps_problems(app, client, auth, make_user, runner):
    auth.login_as(make_user("city_admin"))
    assert _upload(client, csv_bytes([row(1, 统一社会信用代码="91411002MA0000000X")])).status_code == 422
    assert _upload(client, csv_bytes([row(2)])).status_code == 200                     # never confirmed
    assert _upload(client, csv_bytes([row(3, 风险等级="极高")])).status_code == 422       # rejected, recent
    old_rejected, old_preview, recent = (b.id for b in _batches())
    _age(old_rejected, 8)
    _age(old_preview, 8)
    _age(recent, 1)
    assert json.loads(db.session.get(ImportBatch, old_rejected).problems)[0][1] == "统一社会信用代码"

    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "已删除 2 个" in result.output
    batches = {b.id: b for b in _batches()}
    for ident in (old_rejected, old_preview):
        assert batches[ident].content == b"" and batches[ident].purged_at is not None
    assert batches[old_preview].status == "expired"
    assert batches[recent].content != b"" and batches[recent].purged_at is None
    problems = json.loads(batches[old_rejected].problems)
    assert problems and problems[0][0] == 2 and "统一社会信用代码" in problems[0][1]
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "import.files_purged"))
    assert audit is not None and str(old_rejected) in audit.details
    assert verify_chain().ok
    page = client.get("/registry/import").get_data(as_text=True)
    assert "文件已删除" in page and "校验位错误" in page      # the problem list is still shown

    # Nothing left to purge: a second run changes nothing and writes no audit row.
    assert "已删除 0 个" in runner.invoke(args=["purge"]).output
    assert len(db.session.scalars(select(AuditLog).where(AuditLog.action == "import.files_purged")).all()) == 1


def test_retention_is_configurable(app, client, auth, make_user, runner):
    auth.login_as(make_user("city_admin"))
    _upload(client, csv_bytes([row(1, 风险等级="极高")]))
    (batch,) = _batches()
    _age(batch.id, 4)
    assert "已删除 0 个" in runner.invoke(args=["purge"]).output          # default 7 days
    app.config["IMPORT_FILE_RETENTION_DAYS"] = 3
    try:
        assert "已删除 1 个" in runner.invoke(args=["purge"]).output
    finally:
        app.config["IMPORT_FILE_RETENTION_DAYS"] = 7
    assert _batches()[0].content == b""


def test_confirming_a_purged_file_asks_to_upload_again(app, client, auth, make_user, runner):
    user = make_user("city_admin")
    auth.login_as(user)
    _upload(client, csv_bytes([row(1)]))
    (batch,) = _batches()
    _age(batch.id, 30)
    runner.invoke(args=["purge"])
    response = client.post(f"/registry/import/{batch.id}/apply")
    assert response.status_code == 422
    assert "已超过保留期限被删除" in response.get_data(as_text=True)


def test_applied_files_keep_no_content(app, client, auth, make_user):
    auth.login_as(make_user("city_admin"))
    _upload(client, csv_bytes([row(1)]))
    (batch,) = _batches()
    assert client.post(f"/registry/import/{batch.id}/apply").status_code == 302
    (batch,) = _batches()
    assert batch.status == "applied" and batch.content == b""
