"""Every registered route, for every role and for a user of another unit.

The test walks ``app.url_map``: a route that is missing from EXPECTED fails the
test, so every new route must state here who may call it and with which result.
Statuses: 200 ok, 302 redirect, 403 forbidden, 404 outside the user's scope,
422 refused input (the caller got past authorization).
"""
import pytest

from xcapp.core.roles import CITY_ADMIN, COUNTY_ADMIN, INSPECTOR, READONLY

ANON = "anon"
CITY = "city_admin"
COUNTY = "county_admin"          # 县局管理员 of 魏都区 (411002), owner of the sample objects
OTHER = "other_county_admin"     # 县局管理员 of 禹州市 (411081)
INSP = "inspector"               # 检查人员 of 魏都区, not on the sample task
ASSIGNED = "assigned"            # 检查人员 of 魏都区 assigned to the sample task
RO = "readonly"
ACTORS = (ANON, CITY, COUNTY, OTHER, INSP, ASSIGNED, RO)


def same(status, **overrides):
    """Every actor gets ``status`` unless overridden; the assigned officer gets what any
    inspector gets unless overridden."""
    result = {actor: status for actor in ACTORS}
    result.update(overrides)
    result.setdefault(ASSIGNED, result[INSP])
    if ASSIGNED not in overrides:
        result[ASSIGNED] = result[INSP]
    return result


def officer_view(ok=200):
    """Task data: staff of the unit and the assigned officer; other inspectors get 404."""
    return same(ok, anon=302, other_county_admin=404, inspector=404, assigned=ok)


def officer_write(ok=302):
    """Checklist writes: only the assigned officer; staff are refused (403), others 404."""
    return same(403, anon=302, other_county_admin=404, inspector=404, assigned=ok)


def staff(ok=200, anon=302):
    """City admin, county admins and read-only see it; inspectors don't."""
    return same(ok, anon=anon, inspector=403)


def admins(ok, other=None):
    """City admin and county admins; ``other`` is what the other county's admin gets."""
    return same(403, anon=302, city_admin=ok, county_admin=ok,
                other_county_admin=ok if other is None else other)


def owned(ok, readonly=200, inspector=404, other=404):
    """An object of 魏都区: its county admin and the city see it, another county gets 404."""
    return same(ok, anon=302, readonly=readonly, inspector=inspector, other_county_admin=other)


EXPECTED = {
    ("main.index", "GET"): same(302),
    ("main.home", "GET"): same(200, anon=302),
    ("main.healthz", "GET"): same(200),
    ("main.favicon", "GET"): same(200),
    ("auth.login", "GET"): same(302, anon=200),
    ("auth.login", "POST"): same(422),
    ("auth.logout", "POST"): same(302),
    ("audit.log", "GET"): same(403, anon=302, city_admin=200),
    ("audit.verify", "GET"): same(403, anon=302, city_admin=200),
    ("admin.users", "GET"): staff(),
    ("admin.users", "POST"): same(422, anon=302, inspector=403, readonly=403),
    ("admin.units", "GET"): staff(),
    # The sample user belongs to 魏都区: another county's admin gets 404.
    ("admin.user_active", "POST"): same(302, anon=302, inspector=403, readonly=403,
                                        other_county_admin=404),
    ("admin.user_sessions_end", "POST"): same(302, anon=302, inspector=403, readonly=403,
                                              other_county_admin=404),
    ("admin.user_unlock", "POST"): same(302, anon=302, inspector=403, readonly=403,
                                        other_county_admin=404),
    # Registries (inspectors see the enterprises of their own tasks only: none here).
    ("registry.enterprise_list", "GET"): same(200, anon=302),
    ("registry.enterprise_new", "GET"): admins(200),
    ("registry.enterprise_new", "POST"): admins(422),
    ("registry.enterprise_detail", "GET"): owned(200),
    ("registry.enterprise_edit", "GET"): owned(200, readonly=403, inspector=403),
    ("registry.enterprise_edit", "POST"): owned(422, readonly=403, inspector=403),
    ("registry.equipment_add", "POST"): owned(302, readonly=403, inspector=403),
    ("registry.equipment_delete", "POST"): owned(302, readonly=403, inspector=403),
    ("registry.enterprise_export", "GET"): staff(),
    ("registry.equipment_export", "GET"): staff(),
    ("registry.officer_list", "GET"): same(200, anon=302),
    ("registry.officer_new", "GET"): admins(200),
    ("registry.officer_new", "POST"): admins(422),
    ("registry.officer_detail", "GET"): owned(200),
    ("registry.officer_edit", "GET"): owned(200, readonly=403, inspector=403),
    ("registry.officer_edit", "POST"): owned(422, readonly=403, inspector=403),
    ("registry.officer_account", "POST"): owned(302, readonly=403, inspector=403),
    ("registry.officer_export", "GET"): admins(200),
    ("registry.recusal_create", "POST"): owned(302, readonly=403, inspector=403),
    ("registry.recusal_withdraw", "POST"): owned(302, readonly=403, inspector=403),
    ("registry.category_list", "GET"): staff(),
    ("registry.category_list", "POST"): same(403, anon=302, city_admin=422),
    ("registry.category_update", "POST"): same(403, anon=302, city_admin=302),
    ("registry.import_upload", "GET"): admins(200),
    ("registry.import_upload", "POST"): admins(422),
    # Only the admin who uploaded a file confirms it.
    ("registry.import_apply", "POST"): owned(302, readonly=403, inspector=403, other=404) | {"city_admin": 404},
    # The column-mapping step (issue 13.4): likewise only the uploader; the sample file needs no mapping.
    ("registry.import_map", "POST"): owned(200, readonly=403, inspector=403, other=404) | {"city_admin": 404},
    ("registry.import_template", "GET"): admins(200),
    # Plans: the city runs them, every staff role may look; counties work on their own unit.
    ("plans.plan_list", "GET"): staff(),
    ("plans.plan_new", "GET"): same(403, anon=302, city_admin=200),
    ("plans.plan_new", "POST"): same(403, anon=302, city_admin=422),
    ("plans.plan_edit", "GET"): same(403, anon=302, city_admin=302),   # not a draft: back to the plan
    ("plans.plan_edit", "POST"): same(403, anon=302, city_admin=302),
    ("plans.plan_detail", "GET"): staff(),
    ("plans.plan_freeze", "POST"): same(403, anon=302, city_admin=302),
    ("plans.plan_draw", "POST"): same(403, anon=302, city_admin=302),
    ("plans.plan_dispatch", "POST"): same(403, anon=302, city_admin=302),
    ("plans.officers_draw", "POST"): owned(302, readonly=403, inspector=403),
    ("plans.officers_draw_all", "POST"): same(403, anon=302, city_admin=302),
    ("plans.task_list", "GET"): staff(),
    ("plans.task_detail", "GET"): owned(200) | {ASSIGNED: 200},
    ("plans.officer_replace", "POST"): owned(302, readonly=403, inspector=403),
    ("plans.task_method", "POST"): owned(302, readonly=403) | {ASSIGNED: 302},
    # The phone: only the officers of a task fill it; staff of the unit can read it.
    ("inspections.my_tasks", "GET"): same(403, anon=302, inspector=200, assigned=200),
    ("inspections.csrf_token", "GET"): same(403, anon=302, inspector=200, assigned=200),
    ("inspections.prepare_offline", "POST"): same(403, anon=302, inspector=200, assigned=200),
    ("inspections.service_worker", "GET"): same(200),
    ("inspections.checklist", "GET"): officer_view(),
    ("inspections.start_inspection", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.item", "GET"): officer_view(),
    ("inspections.item", "POST"): officer_write(),
    ("inspections.extra_add", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.extra_save", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.extra_delete", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.extra_ref_save", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.extra_ref_delete", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.equipment_ref_save", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.summary_save", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.equipment", "GET"): officer_view(),
    ("inspections.equipment", "POST"): officer_write(),
    ("inspections.equipment_save", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.equipment_confirm", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.photo_add", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.photo", "GET"): officer_view(),
    ("inspections.file", "GET"): officer_view(),
    ("inspections.officer_sign", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.enterprise_sign", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.enterprise_refusal", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.self_check", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.self_report", "POST"): same(302, anon=302, other_county_admin=404, readonly=403, inspector=404,
                                              assigned=302),
    ("inspections.not_inspected", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.submit_record", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.stamp", "POST"): same(403, anon=302, inspector=404, assigned=302),
    ("inspections.review_list", "GET"): staff(),
    ("inspections.review_approve", "POST"): owned(302, readonly=403, inspector=403),
    ("inspections.review_return", "POST"): owned(302, readonly=403, inspector=403),
    ("inspections.pdf", "GET"): officer_view(),
    ("inspections.blank_pdf", "GET"): same(200, anon=302),
    ("publicity.workdays", "GET"): staff(),
    ("publicity.workdays", "POST"): same(403, anon=302, city_admin=302),
    ("publicity.workday_delete", "POST"): same(403, anon=302, city_admin=302),
    ("publicity.workday_year", "POST"): same(403, anon=302, city_admin=302),
    ("publicity.export_csv", "POST"): admins(200),
    ("publicity.export_log_page", "GET"): staff(),
    ("publicity.confirm", "POST"): admins(302),
    ("oversight.dashboard", "GET"): staff(),
    ("oversight.task_list", "GET"): staff(),
    ("oversight.case_list", "GET"): staff(),
    ("oversight.case_detail", "GET"): owned(200, inspector=403),
    ("oversight.case_detail", "POST"): owned(302, readonly=403, inspector=403),
    ("oversight.recheck_task", "POST"): owned(302, readonly=403, inspector=403),
    ("oversight.later_task", "POST"): owned(302, readonly=403, inspector=403),
    # Documents (issue 13): counties get their own unit's figures and tasks; officers their own tasks.
    ("reports.summary", "GET"): staff(),
    ("reports.plan_archive", "GET"): staff(),
    ("reports.task_archive", "GET"): officer_view(),
    ("reports.inspection_notice", "GET"): officer_view(),
    ("reports.matching_list", "GET"): staff(),
    ("reports.rectify_notice", "GET"): owned(200, inspector=403),
    ("reports.rectify_notice", "POST"): owned(422, readonly=403, inspector=403),   # the sample case has no 责令整改
    ("reports.rectify_notice_pdf", "GET"): same(404, anon=302, inspector=403),
    ("public.record", "GET"): same(404),   # the sample seal matches no record
    ("public.results", "GET"): same(200),
    # The public receipt of a draw needs no login.
    ("public.index", "GET"): same(200),
    ("public.receipt", "GET"): same(200),
    ("public.bundle", "GET"): same(200),
}

# Form data sent with a POST, built from the samples.
POST_DATA = {
    "registry.recusal_create": lambda s: {"enterprise": s["uscc"], "officer_id": s["officer_id"],
                                          "reason": "近亲属在该企业任职"},
    "registry.category_update": lambda s: {"name": "水泥", "active": "1"},
    "inspections.photo_add": lambda s: {"item_no": "1"},
    "inspections.officer_sign": lambda s: {"officer_id": "1"},
}


@pytest.fixture
def actors(make_user):
    users = {
        ASSIGNED: make_user(INSPECTOR, "411002", username="matrix_assigned"),
        CITY: make_user(CITY_ADMIN, "411000"),
        COUNTY: make_user(COUNTY_ADMIN, "411002"),
        OTHER: make_user(COUNTY_ADMIN, "411081"),
        INSP: make_user(INSPECTOR, "411002"),
        RO: make_user(READONLY, "411000"),
    }
    return users


@pytest.fixture
def make_samples(make_user, actors, make_enterprise, make_officer):
    """make_samples() -> values for URL parameters: fresh objects owned by 魏都区 (411002)."""
    from xcapp.extensions import db
    from xcapp.registry.importing import stage
    from xcapp.registry.models import ProductCategory
    from xcapp.oversight.models import FollowUpCase
    from xcapp.registry.services import declare_recusal, set_equipment

    target = make_user(INSPECTOR, "411002")
    plan, task, inspection, photo, signature = _plan_sample(make_enterprise, make_officer, actors[ASSIGNED])

    def factory():
        enterprise = make_enterprise(unit="411002")
        set_equipment(enterprise, [{"name": "挤塑机", "model": "SJ-90", "quantity": 2}])
        officer = make_officer(unit="411002")
        other_officer = make_officer(unit="411002")
        recusal = declare_recusal(other_officer, enterprise, "曾在该企业任职", None)
        csv = ("姓名,执法证号,单位,执法证有效期至\r\n"
               f"赵六,豫许执9{enterprise.id:04d},魏都区,2030-12-31\r\n").encode("utf-8")
        batch, _preview = stage("officers", csv, "officers.csv", actors[COUNTY])
        category = db.session.scalar(db.select(ProductCategory).limit(1))
        db.session.commit()
        return {"user_id": target.id, "enterprise_id": enterprise.id, "row_id": enterprise.equipment[0].id,
                "officer_id": officer.id, "recusal_id": recusal.id, "category_id": category.id,
                "batch_id": batch.id, "kind": "enterprises", "fmt": "xlsx", "uscc": enterprise.uscc,
                "plan_id": plan.id, "task_id": task.id, "unit_id": task.unit_id, "inspection_id": inspection.id,
                "item_no": 1, "photo_id": photo.id, "blob_id": signature.blob_id, "day": "2030-01-01",
                "seal": "0" * 16, "ref": "0123456789abcdef", "case_id": db.session.scalar(db.select(FollowUpCase.id))}

    return factory


def _plan_sample(make_enterprise, make_officer, assigned_user):
    """A plan of 魏都区 enterprises, dispatched, with its officers drawn; the first task's
    first officer is ``assigned_user``, who has started the checklist with a photo and
    a signature."""
    from xcapp.extensions import db
    from xcapp.plans.models import Task
    from xcapp.plans.services import create_plan, dispatch_plan, draw_enterprises, draw_officers, freeze_plan

    for risk in ("低", "中", "中高", "高"):
        make_enterprise(unit="411002", risk=risk)
    for _ in range(3):
        make_officer(unit="411002")
    plan = create_plan({"code": "矩阵计划", "name": "路由矩阵", "year": 2030, "ratio_low": 100, "ratio_mid": 100,
                        "ratio_midhigh": 100, "ratio_high": 100, "k": 2, "deadline": "2030-10-31", "scope": []})
    freeze_plan(plan.id)
    draw_enterprises(plan.id, "matrix")
    dispatch_plan(plan.id)
    task = db.session.scalars(db.select(Task).order_by(Task.code)).first()
    draw_officers(plan.id, task.unit_id, "")
    db.session.refresh(task)
    task.active_officers[0].officer.user_id = assigned_user.id
    db.session.flush()
    import base64
    import io

    from PIL import Image, ImageDraw

    from xcapp.inspections.evidence import add_photo, sign_officer
    from xcapp.inspections.lifecycle import start

    inspection = start(task.id, assigned_user)
    db.session.flush()
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(jpeg, "JPEG")
    photo = add_photo(inspection.id, 1, jpeg.getvalue(), assigned_user)
    from xcapp.inspections.answers import add_equipment_row, add_extra_row

    add_extra_row(inspection.id, assigned_user, None, "0123456789abcdef")       # rows added on the phone
    add_equipment_row(inspection.id, assigned_user, None, "0123456789abcdef")
    png = io.BytesIO()
    pad = Image.new("RGBA", (200, 80), (255, 255, 255, 0))
    ImageDraw.Draw(pad).line([(5, 40), (90, 10), (190, 70)], fill=(0, 0, 0, 255), width=4)
    pad.save(png, "PNG")
    signature = sign_officer(inspection.id, task.active_officers[0].officer_id, True,
                             "data:image/png;base64," + base64.b64encode(png.getvalue()).decode(), assigned_user)
    from xcapp.inspections.models import Inspection
    from xcapp.oversight.models import FollowUpCase

    other = db.session.scalars(db.select(Task).order_by(Task.code)).all()[1]
    failed = Inspection(task_id=other.id, revision=1, state="approved", conclusion="fail")
    db.session.add(failed)
    db.session.flush()
    db.session.add(FollowUpCase(task_id=other.id, inspection_id=failed.id, kind="fail"))
    db.session.commit()
    return plan, task, inspection, photo, signature


@pytest.fixture
def samples(make_samples):
    return make_samples()


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_in_the_matrix(app):
    missing = [f"{rule.endpoint} {method} ({rule.rule})" for rule, method in _routes(app)
               if (rule.endpoint, method) not in EXPECTED]
    assert not missing, "routes without an expectation in the matrix: " + ", ".join(missing)
    stale = set(EXPECTED) - {(rule.endpoint, method) for rule, method in _routes(app)}
    assert not stale, f"matrix lists routes that do not exist: {stale}"


def test_every_view_declares_access(app):
    undeclared = [name for name, view in app.view_functions.items()
                  if name != "static" and getattr(view, "access_roles", None) is None]
    assert not undeclared


def test_route_matrix(app, actors, samples, make_samples):
    from flask import url_for

    from xcapp.extensions import db

    failures = []
    for rule, method in _routes(app):
        expected = EXPECTED[(rule.endpoint, method)]
        for actor in ACTORS:
            # A POST may change or delete its object: give each one fresh objects.
            values = make_samples() if method == "POST" else samples
            missing = [arg for arg in rule.arguments if arg not in values]
            assert not missing, f"{rule.endpoint}: no sample value for {missing}"
            with app.test_request_context():
                url = url_for(rule.endpoint, **{arg: values[arg] for arg in rule.arguments})
            data = POST_DATA[rule.endpoint](values) if method == "POST" and rule.endpoint in POST_DATA else None
            client = app.test_client()
            if actor != ANON:
                user = actors[actor]
                db.session.refresh(user)
                with client.session_transaction() as sess:
                    sess["_user_id"] = user.get_id()
                    sess["_fresh"] = True
            response = client.open(url, method=method, data=data)
            if response.status_code != expected[actor]:
                failures.append(f"{method} {url} as {actor}: {response.status_code}, expected {expected[actor]}")
            response.close()
    assert not failures, "\n".join(failures)


def test_anonymous_htmx_request_gets_hx_redirect_everywhere(app, samples):
    """No protected GET route ever swaps a login page into a fragment."""
    client = app.test_client()
    for rule, method in _routes(app):
        if method != "GET" or EXPECTED[(rule.endpoint, method)][ANON] != 302:
            continue
        if rule.endpoint in ("main.index",):
            continue
        with app.test_request_context():
            from flask import url_for
            url = url_for(rule.endpoint, **{arg: samples[arg] for arg in rule.arguments})
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 401, url
        assert response.headers["HX-Redirect"].startswith("/auth/login"), url
