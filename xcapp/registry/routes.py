from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from ..core.authz import ADMIN_ROLES, EVERYONE, STAFF_ROLES, access, can_edit_unit, get_scoped_or_404
from ..core.models import all_units
from ..core.responses import file_response
from ..core.roles import CITY_ADMIN
from ..core.writes import write
from ..db_setup import late_write_lock
from ..extensions import db
from ..htmx import is_htmx
from . import bp
from . import exporting
from .fields import ENTERPRISE_FIELDS, OFFICER_FIELDS
from .forms import AccountLinkForm, CategoryForm, EnterpriseForm, EquipmentForm, OfficerForm, RecusalForm
from .importing import (IGNORE, KINDS, AlreadyApplied, ImportInProgress, ImportRejected, MappingError, apply_batch,
                        remap, stage)
from .models import Enterprise, ImportBatch, Officer, ProductCategory, Recusal
from .queries import (enterprise_by_uscc, enterprise_filter, enterprise_recusals, officer_filter, officer_recusals,
                      paginate, recent_imports, unit_officers)
from .vocab import LICENCE_STATES_SHOWN, RISK_CHOICES, ProductionState
from .services import (RegistryError, add_category, categories, declare_recusal, history, link_officer_account,
                       parse_equipment_row, save_enterprise, save_officer, set_equipment, unit_choices,
                       update_category, withdraw_recusal)

ENTERPRISE_VIEWERS = EVERYONE          # inspectors: only enterprises of their tasks (scoped)
OFFICER_VIEWERS = EVERYONE             # inspectors: only their own record (scoped)
MAX_UPLOAD = 5 * 1024 * 1024
APPLY_REFUSED = {AlreadyApplied: "该文件已导入，未重复写入。",
                 ImportInProgress: "该文件正在导入，请稍候刷新查看结果，不要重复提交。"}


def _list_context(args):
    return dict(units=[u for u in all_units() if not u.is_city], categories=categories(), args=args,
                risks=RISK_CHOICES, licence_states=LICENCE_STATES_SHOWN, production_states=tuple(ProductionState))


# ----------------------------------------------------------------- enterprises

@bp.route("/enterprises")
@access(*ENTERPRISE_VIEWERS)
def enterprise_list():
    page = paginate(enterprise_filter(request.args), request.args.get("page", 1, type=int),
                    (Enterprise.name, Enterprise.id))
    ctx = dict(page=page, **_list_context(request.args))
    if is_htmx():
        return render_block("registry/enterprise_list.html", "results", **ctx)
    return render_template("registry/enterprise_list.html", **ctx)


def _enterprise_form(obj=None) -> EnterpriseForm:
    form = EnterpriseForm(obj=obj)
    # Choices carry the names and codes the shared validators resolve (as in imports).
    form.category_id.choices = [("", "请选择")] + [(c.name, c.name) for c in categories()
                                                   if c.active or (obj and c.id == obj.category_id)]
    form.unit_id.choices = [(u.code, u.name) for u in unit_choices(current_user)]
    if request.method == "GET" and obj is not None:
        form.category_id.data = obj.category.name
        form.unit_id.data = obj.unit.code
        form.issue_date.data = obj.issue_date.isoformat()
        form.expiry_date.data = obj.expiry_date.isoformat()
    return form


def _enterprise_raw(form) -> dict:
    return {spec.key: getattr(form, spec.key).data for spec in ENTERPRISE_FIELDS}


@bp.route("/enterprises/new", methods=["GET", "POST"])
@access(*ADMIN_ROLES)
def enterprise_new():
    form = _enterprise_form()
    if form.validate_on_submit():
        with write(RegistryError, form=form) as w:
            enterprise = save_enterprise(_enterprise_raw(form), actor=current_user)
        if w.ok:
            flash(f"已登记企业：{enterprise.name}", "success")
            return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))
    status = 422 if request.method == "POST" else 200
    return render_template("registry/enterprise_form.html", form=form, enterprise=None), status


@bp.route("/enterprises/<int:enterprise_id>")
@access(*ENTERPRISE_VIEWERS)
def enterprise_detail(enterprise_id: int):
    enterprise = get_scoped_or_404(Enterprise, enterprise_id)
    recusals = enterprise_recusals(enterprise)
    can_edit = can_edit_unit(enterprise.unit_id)
    return render_template("registry/enterprise_detail.html", enterprise=enterprise, recusals=recusals,
                           history=history("enterprise", enterprise.id), can_edit=can_edit,
                           equipment_form=EquipmentForm(), recusal_form=_recusal_form(enterprise)
                           if can_edit else None)


@bp.route("/enterprises/<int:enterprise_id>/edit", methods=["GET", "POST"])
@access(*ADMIN_ROLES)
def enterprise_edit(enterprise_id: int):
    enterprise = get_scoped_or_404(Enterprise, enterprise_id)
    form = _enterprise_form(enterprise)
    if form.validate_on_submit():
        with write(RegistryError, form=form, success="已保存修改。") as w:
            save_enterprise(_enterprise_raw(form), enterprise, actor=current_user)
        if w.ok:
            return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))
        enterprise = get_scoped_or_404(Enterprise, enterprise_id)
    status = 422 if request.method == "POST" else 200
    return render_template("registry/enterprise_form.html", form=form, enterprise=enterprise), status


def _equipment_block(enterprise, form=None, status=200):
    html = render_block("registry/enterprise_detail.html", "equipment", enterprise=enterprise,
                        can_edit=True, equipment_form=form or EquipmentForm())
    return html, status


@bp.route("/enterprises/<int:enterprise_id>/equipment", methods=["POST"])
@access(*ADMIN_ROLES)
def equipment_add(enterprise_id: int):
    enterprise = get_scoped_or_404(Enterprise, enterprise_id)
    form = EquipmentForm()
    status = 200
    if form.validate_on_submit():
        with write(RegistryError, form=form) as w:
            row = parse_equipment_row(form.name.data, form.model.data, form.quantity.data)
            rows = [{"name": e.name, "model": e.model, "quantity": e.quantity} for e in enterprise.equipment]
            set_equipment(enterprise, rows + [row], actor=current_user)
        if w.ok:
            form = EquipmentForm(formdata=None)
        else:
            enterprise = get_scoped_or_404(Enterprise, enterprise_id)
        status = w.status
    if is_htmx():
        return _equipment_block(enterprise, form, status)
    if status == 422:
        flash("设备未添加：" + "；".join(e for f in form for e in f.errors), "error")
    return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))


@bp.route("/enterprises/<int:enterprise_id>/equipment/<int:row_id>/delete", methods=["POST"])
@access(*ADMIN_ROLES)
def equipment_delete(enterprise_id: int, row_id: int):
    enterprise = get_scoped_or_404(Enterprise, enterprise_id)
    if not any(e.id == row_id for e in enterprise.equipment):
        abort(404)
    rows = [{"name": e.name, "model": e.model, "quantity": e.quantity} for e in enterprise.equipment if e.id != row_id]
    with write():
        set_equipment(enterprise, rows, actor=current_user)
    if is_htmx():
        return _equipment_block(enterprise)
    return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))


@bp.route("/enterprises/export")
@access(*STAFF_ROLES)
def enterprise_export():
    return _download(exporting.enterprises(enterprise_filter(request.args), request.args.get("format", "xlsx")),
                     "生产企业", request.args.get("format", "xlsx"))


@bp.route("/equipment/export")
@access(*STAFF_ROLES)
def equipment_export():
    fmt = request.args.get("format", "xlsx")
    return _download(exporting.equipment(enterprise_filter(request.args), fmt), "关键生产设备", fmt)


def _download(data: bytes, stem: str, fmt: str) -> Response:
    from ..core.timeutil import local_today

    fmt = "csv" if fmt == "csv" else "xlsx"
    mimetype = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return file_response(data, mimetype, f"{stem}-{local_today().isoformat()}.{fmt}")


# -------------------------------------------------------------------- officers

@bp.route("/officers")
@access(*OFFICER_VIEWERS)
def officer_list():
    page = paginate(officer_filter(request.args), request.args.get("page", 1, type=int), (Officer.name, Officer.id))
    ctx = dict(page=page, **_list_context(request.args))
    if is_htmx():
        return render_block("registry/officer_list.html", "results", **ctx)
    return render_template("registry/officer_list.html", **ctx)


def _officer_form(obj=None) -> OfficerForm:
    form = OfficerForm(obj=obj)
    form.unit_id.choices = [(u.code, u.name) for u in unit_choices(current_user)]
    form.specialty_id.choices = [("", "无")] + [(c.name, c.name) for c in categories()]
    if request.method == "GET" and obj is not None:
        form.unit_id.data = obj.unit.code
        form.specialty_id.data = obj.specialty.name if obj.specialty else ""
        form.cert_expiry.data = obj.cert_expiry.isoformat()
    return form


def _officer_raw(form) -> dict:
    return {spec.key: getattr(form, spec.key).data for spec in OFFICER_FIELDS}


@bp.route("/officers/new", methods=["GET", "POST"])
@access(*ADMIN_ROLES)
def officer_new():
    form = _officer_form()
    if form.validate_on_submit():
        with write(RegistryError, form=form) as w:
            officer = save_officer(_officer_raw(form), actor=current_user)
        if w.ok:
            flash(f"已登记检查人员：{officer.name}", "success")
            return redirect(url_for("registry.officer_detail", officer_id=officer.id))
    status = 422 if request.method == "POST" else 200
    return render_template("registry/officer_form.html", form=form, officer=None), status


@bp.route("/officers/<int:officer_id>")
@access(*OFFICER_VIEWERS)
def officer_detail(officer_id: int):
    officer = get_scoped_or_404(Officer, officer_id)
    recusals = officer_recusals(officer)
    can_edit = can_edit_unit(officer.unit_id)
    return render_template("registry/officer_detail.html", officer=officer, recusals=recusals,
                           history=history("officer", officer.id), can_edit=can_edit,
                           account_form=AccountLinkForm(username=officer.user.username if officer.user else ""))


@bp.route("/officers/<int:officer_id>/edit", methods=["GET", "POST"])
@access(*ADMIN_ROLES)
def officer_edit(officer_id: int):
    officer = get_scoped_or_404(Officer, officer_id)
    form = _officer_form(officer)
    if form.validate_on_submit():
        with write(RegistryError, form=form, success="已保存修改。") as w:
            save_officer(_officer_raw(form), officer, actor=current_user)
        if w.ok:
            return redirect(url_for("registry.officer_detail", officer_id=officer.id))
        officer = get_scoped_or_404(Officer, officer_id)
    status = 422 if request.method == "POST" else 200
    return render_template("registry/officer_form.html", form=form, officer=officer), status


@bp.route("/officers/<int:officer_id>/account", methods=["POST"])
@access(*ADMIN_ROLES)
def officer_account(officer_id: int):
    officer = get_scoped_or_404(Officer, officer_id)
    form = AccountLinkForm()
    if form.validate_on_submit():
        with write(RegistryError, success="已更新登录账号关联。"):
            link_officer_account(officer, form.username.data or "", actor=current_user)
    return redirect(url_for("registry.officer_detail", officer_id=officer_id))


@bp.route("/officers/export")
@access(*ADMIN_ROLES)
def officer_export():
    fmt = request.args.get("format", "xlsx")
    return _download(exporting.officers(officer_filter(request.args), fmt), "执法检查人员", fmt)


# -------------------------------------------------------------------- recusals

def _recusal_form(enterprise: Enterprise) -> RecusalForm:
    form = RecusalForm()
    form.officer_id.choices = [(str(o.id), f"{o.name}（{o.cert_no}）") for o in unit_officers(enterprise.unit_id)]
    form.enterprise.data = enterprise.uscc
    return form


@bp.route("/recusals", methods=["POST"])
@access(*ADMIN_ROLES)
def recusal_create():
    enterprise = enterprise_by_uscc((request.form.get("enterprise") or "").strip().upper())
    if enterprise is None or not can_edit_unit(enterprise.unit_id):
        abort(404)
    officer_id = request.form.get("officer_id", type=int)
    officer = get_scoped_or_404(Officer, officer_id) if officer_id else abort(404)
    declared_on = None
    if request.form.get("declared_on"):
        try:
            declared_on = date.fromisoformat(request.form["declared_on"])
        except ValueError:
            flash("申报日期格式应为 2023-07-04", "error")
            return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))
    with write(RegistryError, flash=False) as w:
        declare_recusal(officer, enterprise, request.form.get("reason", ""), declared_on, actor=current_user)
    if w.ok:
        flash(f"已登记回避：{officer.name} 不参加对 {enterprise.name} 的检查。", "success")
    else:
        flash("回避未登记：" + w.message, "error")
    return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise.id))


@bp.route("/recusals/<int:recusal_id>/withdraw", methods=["POST"])
@access(*ADMIN_ROLES)
def recusal_withdraw(recusal_id: int):
    recusal = db.session.get(Recusal, recusal_id)
    if recusal is None or not can_edit_unit(recusal.officer.unit_id):
        abort(404)
    enterprise_id = recusal.enterprise_id
    with write(success="已撤回回避申报。"):
        withdraw_recusal(recusal, actor=current_user)
    return redirect(url_for("registry.enterprise_detail", enterprise_id=enterprise_id))


# ------------------------------------------------------------------ categories

@bp.route("/categories", methods=["GET", "POST"])
@access(*STAFF_ROLES)
def category_list():
    form = CategoryForm()
    status = 200
    if request.method == "POST":
        if current_user.role != CITY_ADMIN:
            abort(403)
        if form.validate_on_submit():
            with write(RegistryError, form=form) as w:
                add_category(form.name.data, actor=current_user)
            if w.ok:
                flash(f"已添加产品类别：{form.name.data.strip()}", "success")
                return redirect(url_for("registry.category_list"))
        status = 422
    return render_template("registry/categories.html", categories=categories(), form=form,
                           can_edit=current_user.role == CITY_ADMIN), status


@bp.route("/categories/<int:category_id>", methods=["POST"])
@access(CITY_ADMIN)
def category_update(category_id: int):
    category = db.get_or_404(ProductCategory, category_id)
    with write(RegistryError, success="已保存产品类别。"):
        update_category(category, request.form.get("name", ""), request.form.get("active") == "1",
                        actor=current_user)
    return redirect(url_for("registry.category_list"))


# ---------------------------------------------------------------------- import

@bp.route("/import", methods=["GET", "POST"])
@access(*ADMIN_ROLES)
@late_write_lock
def import_upload():
    """Upload and preview. The file is read and checked before the write lock is
    taken (late_write_lock), which is then held only to keep the batch."""
    if request.method == "GET":
        return render_template("registry/import.html", kinds=KINDS, preview=None, batch=None,
                               kind=request.args.get("kind", "enterprises"), recent=recent_imports(current_user),
                               retention_days=current_app.config["IMPORT_FILE_RETENTION_DAYS"])
    kind = request.form.get("kind", "")
    upload = request.files.get("file")
    error = ""
    if kind not in KINDS:
        error = "请选择导入类型。"
    elif upload is None or not upload.filename:
        error = "请选择要上传的文件。"
    if error:
        return render_template("registry/import.html", kinds=KINDS, preview=None, batch=None, kind=kind,
                               error=error), 422
    data = upload.stream.read(MAX_UPLOAD + 1)
    with write():
        batch, preview = stage(kind, data, upload.filename, current_user)
    status = 200 if preview.ok else 422
    return render_template("registry/import.html", kinds=KINDS, preview=preview, batch=batch, kind=kind), status


@bp.route("/import/<int:batch_id>/apply", methods=["POST"])
@access(*ADMIN_ROLES)
@late_write_lock
def import_apply(batch_id: int):
    """Confirm a previewed file: checked again without the write lock, then written
    in short chunks (see importing.apply)."""
    batch = get_scoped_or_404(ImportBatch, batch_id)
    if batch.user_id != current_user.id:
        abort(404)
    with write(AlreadyApplied, ImportInProgress, ImportRejected, flash=False) as w:
        batch, preview = apply_batch(batch.id, current_user)
    if isinstance(w.error, ImportRejected):
        batch = db.session.get(ImportBatch, batch_id)
        return render_template("registry/import.html", kinds=KINDS, preview=w.error.preview, batch=batch,
                               kind=batch.kind, stale=True), 422
    if not w.ok:   # nothing written twice: it was applied before, or is being applied now
        flash(APPLY_REFUSED[type(w.error)], "info")
        return redirect(url_for("registry.import_upload"))
    s = preview.summary()
    flash(f"导入完成：新增 {s['created']} 条，更新 {s['updated']} 条，未变化 {s['unchanged']} 条。", "success")
    return redirect(url_for("registry.import_upload", kind=batch.kind))


@bp.route("/import/<int:batch_id>/map", methods=["POST"])
@access(*ADMIN_ROLES)
@late_write_lock
def import_map(batch_id: int):
    """The mapping step: each header the import does not know gets a field or 忽略; the
    choice is kept with the batch (checked on the server, audited) and the file is
    previewed again with it."""
    batch = get_scoped_or_404(ImportBatch, batch_id)
    if batch.user_id != current_user.id:
        abort(404)
    headers = request.form.getlist("header")
    targets = request.form.getlist("target")
    if len(headers) != len(targets) or len(headers) > 200:
        abort(400)
    # "__ignore__" is the form's 忽略此列; an empty choice is left out (and named as missing).
    chosen = {h: (IGNORE if t == "__ignore__" else t) for h, t in zip(headers, targets) if t}
    with write(MappingError, flash=False) as w:
        batch, preview = remap(batch.id, chosen, current_user)
    if not w.ok:
        batch = db.session.get(ImportBatch, batch_id)
        from .importing import batch_preview

        preview = batch_preview(batch, current_user) if batch.content else None
        return render_template("registry/import.html", kinds=KINDS, preview=preview, batch=batch, kind=batch.kind,
                               error=w.message, chosen=chosen), 422
    status = 200 if preview.ok else 422
    return render_template("registry/import.html", kinds=KINDS, preview=preview, batch=batch, kind=batch.kind), status


@bp.route("/templates/<kind>.<fmt>")
@access(*ADMIN_ROLES)
def import_template(kind: str, fmt: str):
    if kind not in KINDS or fmt not in ("xlsx", "csv"):
        abort(404)
    return _download(exporting.template(kind, fmt), f"导入模板-{KINDS[kind].label}", fmt)
