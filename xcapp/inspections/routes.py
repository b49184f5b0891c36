"""The officers' screens: my tasks, the checklist item by item, the equipment table,
photos, signatures, submit; and the county admin's review."""
from __future__ import annotations


import hashlib
from types import SimpleNamespace

from flask import Response, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from jinja2_fragments.flask import render_block, render_blocks
from markupsafe import Markup

from ..core.authz import ADMIN_ROLES, STAFF_ROLES, access, can_edit_unit, get_scoped_or_404
from ..core.responses import file_response
from ..core.roles import CITY_ADMIN, COUNTY_ADMIN, INSPECTOR
from ..core.timeutil import local_today, to_local, utcnow
from ..core.writes import write
from ..db_setup import late_write_lock
from ..extensions import db
from ..htmx import hx_redirect, is_htmx
from ..plans.models import Task
from . import bp, queries, rules
from .answers import (add_equipment_row, add_extra_row, confirm_equipment, delete_extra_row, equipment_warning,
                      save_answer, save_equipment_row, save_extra_row, save_summary)
from .evidence import (add_photo, attach_stamp, record_refusal, save_self_check, save_self_report, sign_enterprise,
                       sign_officer)
from .lifecycle import (approve, prepare_for_offline, record_not_inspected, return_for_revision, seal_intact, start,
                        submit)
from .models import Blob, Inspection, Photo, SelfReport
from .services import Conflict, InspectionError, KeyReused, SaveKey, claim_key, latest, officer_of, status
from .vocab import SelfCheckMatch

PAGE = "inspections/checklist.html"
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024


def _task(task_id: int) -> Task:
    return get_scoped_or_404(Task, task_id)


def _inspection(inspection_id: int) -> Inspection:
    return get_scoped_or_404(Inspection, inspection_id)


def _ctx(inspection: Inspection | None, task: Task, full: bool = True, **extra) -> dict:
    """What the checklist templates need; ``full=False`` skips what only the whole page
    shows (the save responses are on the hot path of every tap)."""
    ctx = dict(task=task, inspection=inspection, rules=rules, items=list(rules.ALL_ITEMS.values()),
               item12=rules.ITEM_12, self_check_options=SelfCheckMatch.labels(),
               me=officer_of(current_user, task) if current_user.role == INSPECTOR else None,
               today=local_today().isoformat())
    if inspection is not None:
        ctx["state"] = status(inspection)
        if full:   # a save's answer form and out-of-band regions show neither
            ctx["photos_by_item"] = _photos_by_item(inspection)
            ctx["equipment_warning"] = equipment_warning(inspection)
    if full and inspection is not None and inspection.editable and ctx["me"] is not None:
        # Rendered only where the page shows it (the item-12 card, the equipment table).
        ctx["row_template"] = lambda kind: Markup(render_block(PAGE, f"{kind}_row", row=_new_row(kind), **ctx))
    if full:
        ctx["self_report"] = db.session.get(SelfReport, task.id)
        ctx["can_manage"] = can_edit_unit(task.unit_id)
        ctx["revisions"] = queries.revisions(task) if inspection else []
    ctx.update(extra)
    return ctx


NEW_ROW_REF = "__ref__"   # replaced by the phone's reference of the row it adds


def _new_row(kind: str) -> SimpleNamespace:
    """A row as the server creates it on 增加 (add_extra_row / add_equipment_row), for
    the page's template of rows added on the phone."""
    common = dict(id=None, client_ref=NEW_ROW_REF, position=None, remark="")
    if kind == "extra":
        return SimpleNamespace(project="", record="", conclusion="", **common)
    return SimpleNamespace(name="", model="", licensed_qty=None, onsite_qty=None, status=rules.EQUIP_ADDED,
                           from_licence=False, **common)


def _photos_by_item(inspection: Inspection) -> dict[int, list[Photo]]:
    out: dict[int, list[Photo]] = {}
    for photo in inspection.photos:
        out.setdefault(photo.item_no, []).append(photo)
    return out


def _form_key() -> SaveKey | None:
    """The client's save key, bound to the SHA-256 of everything the request carries
    (path, every form field but the key and the CSRF token, each file's SHA-256)."""
    key = request.form.get("save_key") or request.headers.get("X-Idempotency-Key")
    if not key:
        return None
    return SaveKey(key, content_hash())


def content_hash() -> str:
    digest = hashlib.sha256(request.path.encode())
    fields = sorted((k, v) for k, values in request.form.lists() for v in values
                    if k not in ("save_key", "csrf_token"))
    for name, value in fields:
        digest.update(b"\0f" + name.encode() + b"\0" + value.encode())
    for name, upload in sorted(request.files.items(multi=True), key=lambda pair: pair[0]):
        file_digest = hashlib.sha256(upload.stream.read(MAX_PHOTO_UPLOAD + 1)).hexdigest()
        upload.stream.seek(0)
        digest.update(b"\0u" + name.encode() + b"\0" + file_digest.encode())
    return digest.hexdigest()


def _refused(w) -> tuple[str, int]:
    """A refused write (``core.writes``, already rolled back): tell the phone's queue when
    its key must be replaced or the other officer's newer save differs."""
    if isinstance(w.error, KeyReused):
        g.key_reused = True
    elif isinstance(w.error, Conflict):
        g.version_conflict = True
    return w.message, w.status


@bp.after_request
def _save_headers(response):
    """Tell the phone's sync queue when the server stored a write (its own clock) and
    when a key must be replaced by a new one."""
    if request.method == "POST":
        if response.status_code < 300 or response.headers.get("HX-Redirect"):
            response.headers["X-Saved-At"] = to_local(utcnow()).strftime("%H:%M:%S")
        if g.get("key_reused"):
            response.headers["X-Save-Key-Reused"] = "1"
        if g.get("version_conflict"):
            response.headers["X-Save-Conflict"] = "version"
    return response


@bp.route("/csrf-token")
@access(INSPECTOR)
def csrf_token():
    """A fresh CSRF token for the sync queue after the page's token expired."""
    return jsonify(token=generate_csrf())


@bp.route("/sw.js")
@access(public=True)
def service_worker():
    """The service worker, served under /inspections/ so that its scope covers the
    officer's pages; the static files it caches are listed here with their versions."""
    body = render_template("inspections/sw.js")
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = url_for("inspections.my_tasks").rsplit("/", 1)[0] + "/"
    return response


# ------------------------------------------------------------------ my tasks

@bp.route("/mine")
@access(INSPECTOR)
def my_tasks():
    return render_template("inspections/my_tasks.html", tasks=queries.my_tasks())


@bp.route("/mine/prepare", methods=["POST"])
@access(INSPECTOR)
@late_write_lock   # opened with every visit of 我的任务: the write lock only when a record is prepared
def prepare_offline():
    """Called by the phone when 我的任务 is open with a connection, before it caches the
    checklists: the records of tasks still 待检查 are prepared, so that their checklists
    work offline from 开始检查 on."""
    with write():
        prepared = prepare_for_offline(current_user)
    return jsonify(prepared=prepared)


# ------------------------------------------------------------------ the checklist

@bp.route("/tasks/<int:task_id>")
@access(*STAFF_ROLES, INSPECTOR)
def checklist(task_id: int):
    task = _task(task_id)
    inspection = latest(task)
    revision = request.args.get("revision", type=int)
    if revision and not 0 < revision < 2 ** 31:   # no such revision (and no int a database column holds)
        abort(404)
    if revision:
        inspection = queries.revision(task, revision) or abort(404)
    return render_template(PAGE, **_ctx(inspection, task))


@bp.route("/tasks/<int:task_id>/start", methods=["POST"])
@access(INSPECTOR)
def start_inspection(task_id: int):
    task = _task(task_id)
    with write(InspectionError):
        start(task.id, current_user)
    return redirect(url_for("inspections.checklist", task_id=task.id))


def _card(inspection: Inspection, item_no: int, message: str = "", status_code: int = 200, saved: bool = False,
          whole: bool = False):
    """The answer form of an item (or its whole card) plus the regions a save changes, out of band.

    Only the tapped form is swapped: a remark being typed or a photo being uploaded in
    the same card is never replaced by the response."""
    main = "item_card" if whole or item_no == rules.EXTRA_ITEM_NO else "answer_form"
    ctx = _ctx(inspection, inspection.task, full=main == "item_card")
    item = rules.ALL_ITEMS[item_no]
    regions = ("progress", "summary", "submit_box")
    if main == "answer_form" and not message:
        # The common answer to a tap (a save that went through): the five regions in one
        # rendering context (the answer form reads no ``oob``).
        return render_blocks(PAGE, [main, "item_status", *regions], item=item, message="", saved=saved, oob=True,
                             status_message="", **ctx), status_code
    html = render_block(PAGE, main, item=item, message=message, saved=saved, **ctx)
    if main != "item_card":
        html += render_block(PAGE, "item_status", item=item, oob=True, saved=saved, status_message=message, **ctx)
    for block in regions:
        html += render_block(PAGE, block, oob=True, **ctx)
    return html, status_code


@bp.route("/<int:inspection_id>/items/<int:item_no>", methods=["GET", "POST"])
@access(*STAFF_ROLES, INSPECTOR)
@late_write_lock
def item(inspection_id: int, item_no: int):
    # An officer's save reads the record once, locked, in save_answer (which checks that
    # the user is an officer of the task) and answers from that read; a refusal re-reads
    # it within the user's scope.
    saving = request.method == "POST" and current_user.role == INSPECTOR
    inspection = None if saving else _inspection(inspection_id)
    if item_no not in rules.ALL_ITEMS:
        abort(404)
    if request.method == "GET":
        if is_htmx():
            return _card(inspection, item_no, whole=True)
        return render_template("inspections/item_page.html", item=rules.ALL_ITEMS[item_no],
                               **_ctx(inspection, inspection.task))
    if current_user.role != INSPECTOR:
        abort(403)
    data = {}
    if "record_present" in request.form:
        data["record"] = request.form.getlist("record")
    if "conclusion" in request.form:
        data["conclusion"] = request.form.get("conclusion", "")
    if "remark" in request.form:
        data["remark"] = request.form.get("remark", "")
    base = request.form.get("base_version", type=int)
    db.session().expire_on_commit = False   # the response shows what this commit stored, not re-read
    with write(InspectionError, flash=False) as w:
        inspection, _answer, _replayed = save_answer(inspection_id, item_no, data, current_user,
                                                     base_version=base, key=_form_key())
    if not w.ok:
        message, code = _refused(w)
        return _after_write(_inspection(inspection_id), item_no, message, code)
    if item_no == rules.EXTRA_ITEM_NO and is_htmx():
        inspection = _inspection(inspection_id)   # its whole card shows rows and photos: read as a model
    return _after_write(inspection, item_no, saved=True)


def _after_write(inspection, item_no, message="", status_code=200, saved=False):
    if is_htmx():
        return _card(inspection, item_no, message, status_code, saved)
    if message:
        flash(message, "error")
    return redirect(url_for("inspections.checklist", task_id=inspection.task_id, _anchor=f"item-{item_no}"))


def _write(inspection_id: int, action, anchor_item: int, *, block: str | None = None, row_kind: str | None = None,
           row_id: int | None = None, claim: str | None = None):
    """Run one write for the checklist; answer with the block it changed (htmx) or a redirect.

    ``row_kind`` ("extra" or "equipment") answers with just that row, so a value being
    typed into another row is never swapped away. ``claim`` names the target of a write
    whose service takes no key: the key is recorded here, and a replay changes nothing."""
    inspection = _inspection(inspection_id)
    if current_user.role != INSPECTOR:
        abort(403)
    with write(InspectionError, flash=False) as w:
        if not (claim and claim_key(inspection.id, _form_key(), claim, current_user)):
            action(inspection.id)
    message, code = _refused(w)
    inspection = _inspection(inspection_id)
    if row_kind and is_htmx():
        ctx = _ctx(inspection, inspection.task)
        rows = inspection.extra_rows if row_kind == "extra" else inspection.equipment_rows
        row = next((r for r in rows if r.id == row_id), None)
        if row is None:
            return message or "该行不存在", code if message else 404
        # Rows are not swapped on success (what the officer typed stays as typed); a
        # refused row comes back out of band with the stored values and the reason.
        html = render_block(PAGE, f"{row_kind}_row", row=row, message=message, oob=True, **ctx) if message else ""
        for oob_block in ("progress", "summary", "submit_box") + (("equipment_status",) if row_kind == "equipment" else ()):
            html += render_block(PAGE, oob_block, oob=True, **ctx)
        return html, code
    if block and is_htmx():
        ctx = _ctx(inspection, inspection.task)
        html = render_block(PAGE, block, message=message, **ctx)
        if block == "equipment":    # also when the phone keeps its table and takes only what is out of band
            html += render_block(PAGE, "equipment_status", oob=True, **ctx)
        html += render_block(PAGE, "progress", oob=True, **ctx)
        if block != "summary":
            html += render_block(PAGE, "summary", oob=True, **ctx)
        if block != "submit_box":
            html += render_block(PAGE, "submit_box", oob=True, **ctx)
        return html, code
    if block is None and is_htmx() and anchor_item:
        return _card(inspection, anchor_item, message, code, saved=not message)
    if message:
        flash(message, "error")
    anchor = f"item-{anchor_item}" if anchor_item else (block or "").replace("_", "-")
    return redirect(url_for("inspections.checklist", task_id=inspection.task_id, _anchor=anchor))


@bp.route("/<int:inspection_id>/extra", methods=["POST"])
@access(INSPECTOR)
def extra_add(inspection_id: int):
    ref = request.form.get("client_ref", "")
    return _write(inspection_id, lambda i: add_extra_row(i, current_user, _form_key(), ref), 12)


def _row_by_ref(inspection_id: int, kind: str, ref: str) -> int:
    """The id of the row the phone added with reference ``ref`` (its saves were queued
    before the phone knew the id)."""
    inspection = _inspection(inspection_id)
    rows = inspection.extra_rows if kind == "extra" else inspection.equipment_rows
    row = next((r for r in rows if ref and r.client_ref == ref), None)
    if row is None:
        abort(404)
    return row.id


@bp.route("/<int:inspection_id>/extra/ref/<ref>", methods=["POST"])
@access(INSPECTOR)
def extra_ref_save(inspection_id: int, ref: str):
    return extra_save(inspection_id, _row_by_ref(inspection_id, "extra", ref))


@bp.route("/<int:inspection_id>/extra/ref/<ref>/delete", methods=["POST"])
@access(INSPECTOR)
def extra_ref_delete(inspection_id: int, ref: str):
    return extra_delete(inspection_id, _row_by_ref(inspection_id, "extra", ref))


@bp.route("/<int:inspection_id>/extra/<int:row_id>", methods=["POST"])
@access(INSPECTOR)
def extra_save(inspection_id: int, row_id: int):
    data = {k: request.form[k] for k in ("project", "record", "conclusion", "remark") if k in request.form}
    return _write(inspection_id, lambda i: save_extra_row(i, row_id, data, current_user, _form_key()), 12,
                  row_kind="extra", row_id=row_id)


@bp.route("/<int:inspection_id>/extra/<int:row_id>/delete", methods=["POST"])
@access(INSPECTOR)
def extra_delete(inspection_id: int, row_id: int):
    return _write(inspection_id, lambda i: delete_extra_row(i, row_id, current_user), 12, claim=f"extra:{row_id}:del")


@bp.route("/<int:inspection_id>/summary", methods=["POST"])
@access(INSPECTOR)
def summary_save(inspection_id: int):
    return _write(inspection_id, lambda i: save_summary(i, request.form.get("summary", ""), current_user), 0,
                  block="summary", claim="summary")


@bp.route("/<int:inspection_id>/equipment", methods=["GET", "POST"])
@access(*STAFF_ROLES, INSPECTOR)
def equipment(inspection_id: int):
    if request.method == "GET":
        inspection = _inspection(inspection_id)
        ctx = _ctx(inspection, inspection.task)
        if is_htmx():
            return render_block(PAGE, "equipment", **ctx)
        return render_template("inspections/equipment_page.html", **ctx)
    ref = request.form.get("client_ref", "")
    return _write(inspection_id, lambda i: add_equipment_row(i, current_user, _form_key(), ref), 0,
                  block="equipment")


@bp.route("/<int:inspection_id>/equipment/ref/<ref>", methods=["POST"])
@access(INSPECTOR)
def equipment_ref_save(inspection_id: int, ref: str):
    return equipment_save(inspection_id, _row_by_ref(inspection_id, "equipment", ref))


@bp.route("/<int:inspection_id>/equipment/<int:row_id>", methods=["POST"])
@access(INSPECTOR)
def equipment_save(inspection_id: int, row_id: int):
    data = {k: request.form[k] for k in ("name", "model", "onsite_qty", "status", "remark") if k in request.form}
    return _write(inspection_id, lambda i: save_equipment_row(i, row_id, data, current_user, _form_key()), 0,
                  block="equipment", row_kind="equipment", row_id=row_id)


@bp.route("/<int:inspection_id>/equipment/confirm", methods=["POST"])
@access(INSPECTOR)
def equipment_confirm(inspection_id: int):
    return _write(inspection_id, lambda i: confirm_equipment(i, current_user), 0, block="equipment",
                  claim="equipment:confirm")


@bp.route("/<int:inspection_id>/photos", methods=["POST"])
@access(INSPECTOR)
@late_write_lock   # decoding runs before the write lock (issue 11.2)
def photo_add(inspection_id: int):
    _inspection(inspection_id)  # scope first: a stranger learns nothing from a 400
    item_no = request.form.get("item_no", type=int)
    upload = request.files.get("photo")
    if item_no is None:
        abort(400)

    def action(i):
        if upload is None or not upload.filename:
            raise InspectionError("请选择或拍摄照片")
        key = _form_key()   # hashes the file, then rewinds it
        data = upload.stream.read(MAX_PHOTO_UPLOAD + 1)
        add_photo(i, item_no, data, current_user, key, captured_at=request.form.get("captured_at"))

    if item_no == 0:
        return _write(inspection_id, action, 0, block="not_inspected")
    inspection = _inspection(inspection_id)
    with write(InspectionError, flash=False) as w:
        action(inspection.id)
    message, code = _refused(w)
    inspection = _inspection(inspection_id)
    if is_htmx() and item_no in rules.ALL_ITEMS:
        return render_block(PAGE, "item_photos", item=rules.ALL_ITEMS[item_no], photo_message=message,
                            **_ctx(inspection, inspection.task)), code
    if message:
        flash(message, "error")
    return redirect(url_for("inspections.checklist", task_id=inspection.task_id, _anchor=f"item-{item_no}"))


@bp.route("/photos/<int:photo_id>")
@access(*STAFF_ROLES, INSPECTOR)
def photo(photo_id: int):
    found = db.session.get(Photo, photo_id) or abort(404)
    _inspection(found.inspection_id)   # scope check
    return _blob_response(found.thumb_blob_id if request.args.get("thumb") else found.blob_id)


@bp.route("/<int:inspection_id>/files/<int:blob_id>")
@access(*STAFF_ROLES, INSPECTOR)
def file(inspection_id: int, blob_id: int):
    """Signatures, the stamp photo and the self-report of this inspection only."""
    inspection = _inspection(inspection_id)
    report = db.session.get(SelfReport, inspection.task_id)
    allowed = {s.blob_id for s in inspection.signatures} | {inspection.enterprise_signature_id,
                                                             inspection.stamp_blob_id,
                                                             report.blob_id if report else None}
    allowed |= {a.blob_id for a in inspection.additions}   # late additions (11.7)
    if blob_id not in allowed:
        abort(404)
    return _blob_response(blob_id)


def _blob_response(blob_id: int) -> Response:
    blob = db.session.get(Blob, blob_id) or abort(404)
    response = Response(blob.data, mimetype=blob.content_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.route("/<int:inspection_id>/signatures", methods=["POST"])
@access(INSPECTOR)
def officer_sign(inspection_id: int):
    _inspection(inspection_id)
    officer_id = request.form.get("officer_id", type=int) or abort(400)
    return _write(inspection_id, lambda i: sign_officer(i, officer_id, request.form.get("certificate_shown") == "1",
                                                        request.form.get("signature", ""), current_user),
                  0, block="signatures", claim=f"sign:{officer_id}")


@bp.route("/<int:inspection_id>/enterprise", methods=["POST"])
@access(INSPECTOR)
def enterprise_sign(inspection_id: int):
    return _write(inspection_id, lambda i: sign_enterprise(i, request.form.get("opinion", ""),
                                                           request.form.get("representative", ""),
                                                           request.form.get("signature", ""), current_user),
                  0, block="enterprise", claim="enterprise")


@bp.route("/<int:inspection_id>/refusal", methods=["POST"])
@access(INSPECTOR)
def enterprise_refusal(inspection_id: int):
    attested = [int(v) for v in request.form.getlist("attest") if v.isdigit()]
    return _write(inspection_id, lambda i: record_refusal(i, request.form.get("reason", ""), attested, current_user),
                  0, block="enterprise", claim="refusal")


@bp.route("/<int:inspection_id>/self-check", methods=["POST"])
@access(INSPECTOR)
def self_check(inspection_id: int):
    return _write(inspection_id, lambda i: save_self_check(i, request.form.get("match", ""),
                                                           request.form.get("note", ""), current_user),
                  0, block="self_check", claim="self_check")


def _step(action, success: str, target: str):
    """A full-page write: run it, commit, flash the outcome and go to ``target``."""
    with write(InspectionError, success=success):
        action()
    return redirect(target)


@bp.route("/tasks/<int:task_id>/self-report", methods=["POST"])
@access(*ADMIN_ROLES, INSPECTOR)
def self_report(task_id: int):
    task = _task(task_id)
    if current_user.role == INSPECTOR and officer_of(current_user, task) is None:
        abort(404)
    if current_user.role in ADMIN_ROLES and not can_edit_unit(task.unit_id):
        abort(404)
    upload = request.files.get("file")
    payload = (upload.stream.read(10 * 1024 * 1024 + 1), upload.filename) if upload and upload.filename else None
    return _step(lambda: save_self_report(task.id, request.form.get("text", ""), payload, current_user),
                 "已保存企业自查报告。", url_for("inspections.checklist", task_id=task.id, _anchor="self-check"))


@bp.route("/<int:inspection_id>/not-inspected", methods=["POST"])
@access(INSPECTOR)
def not_inspected(inspection_id: int):
    return _write(inspection_id, lambda i: record_not_inspected(i, request.form.get("reason", ""),
                                                                request.form.get("remark", ""),
                                                                request.form.get("inspection_date"), current_user),
                  0, block="not_inspected", claim="not_inspected")


@bp.route("/<int:inspection_id>/submit", methods=["POST"])
@access(INSPECTOR)
def submit_record(inspection_id: int):
    geo = {k: request.form.get(k) for k in ("lat", "lon", "accuracy") if request.form.get(k)}
    inspection = _inspection(inspection_id)
    if is_htmx():
        # From the phone's sync queue (a submit made offline): sealed now, or refused
        # with the reason; a refused submit leaves the record a draft.
        with write(InspectionError, flash=False) as w:
            if not claim_key(inspection.id, _form_key(), "submit", current_user):
                submit(inspection.id, request.form.get("inspection_date"), current_user, geo or None)
        if not w.ok:
            message, code = _refused(w)
            return render_template("errors/fragment.html", status=code, title="未能提交", message=message), code
        flash("检查记录已提交并封存。", "success")
        return hx_redirect(url_for("inspections.checklist", task_id=inspection.task_id, _anchor="submit-box"))
    return _step(lambda: submit(inspection.id, request.form.get("inspection_date"), current_user, geo or None),
                 "检查记录已提交并封存。",
                 url_for("inspections.checklist", task_id=inspection.task_id, _anchor="submit-box"))


@bp.route("/<int:inspection_id>/stamp", methods=["POST"])
@access(INSPECTOR)
@late_write_lock   # decoding runs before the write lock (issue 11.2)
def stamp(inspection_id: int):
    inspection = _inspection(inspection_id)
    upload = request.files.get("photo")

    def action():
        if upload is None or not upload.filename:
            raise InspectionError("请选择或拍摄盖章页照片")
        attach_stamp(inspection.id, upload.stream.read(MAX_PHOTO_UPLOAD + 1), current_user)

    return _step(action, "已上传盖章页照片。",
                 url_for("inspections.checklist", task_id=inspection.task_id, _anchor="submit-box"))


@bp.route("/<int:inspection_id>/pdf")
@access(*STAFF_ROLES, INSPECTOR)
def pdf(inspection_id: int):
    from .pdf import render_inspection_pdf

    inspection = _inspection(inspection_id)
    data = render_inspection_pdf(inspection, public_record_url(inspection))
    return _pdf_response(data, f"一企两表-{inspection.task.code}-第{inspection.revision}版.pdf")


@bp.route("/blank.pdf")
@access(*STAFF_ROLES, INSPECTOR)
def blank_pdf():
    from .pdf import render_blank_pdf

    return _pdf_response(render_blank_pdf(), "一企两表-空白.pdf")


def public_record_url(inspection: Inspection) -> str:
    if not inspection.seal_hash:
        return ""
    base = (current_app.config.get("PUBLIC_BASE_URL") or request.host_url).rstrip("/")
    return base + url_for("public.record", seal=inspection.seal_hash[:16])


def _pdf_response(data: bytes, filename: str) -> Response:
    return file_response(data, "application/pdf", filename, inline=True)


# ------------------------------------------------------------------ review

@bp.route("/review")
@access(*STAFF_ROLES)
def review_list():
    return render_template("inspections/review.html", inspections=queries.awaiting_review(), seal_intact=seal_intact)


@bp.route("/<int:inspection_id>/approve", methods=["POST"])
@access(CITY_ADMIN, COUNTY_ADMIN)
def review_approve(inspection_id: int):
    inspection = _inspection(inspection_id)
    return _step(lambda: approve(inspection.id, current_user), "已审核通过，可以公示。",
                 url_for("inspections.review_list"))


@bp.route("/<int:inspection_id>/return", methods=["POST"])
@access(CITY_ADMIN, COUNTY_ADMIN)
def review_return(inspection_id: int):
    inspection = _inspection(inspection_id)
    return _step(lambda: return_for_revision(inspection.id, request.form.get("reason", ""), current_user),
                 "已退回，检查人员可在新的修订版本中修改。", url_for("inspections.review_list"))


