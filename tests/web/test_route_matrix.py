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
INSP = "inspector"               # 检查人员 of 魏都区
RO = "readonly"
ACTORS = (ANON, CITY, COUNTY, OTHER, INSP, RO)


def same(status, **overrides):
    result = {actor: status for actor in ACTORS}
    result.update(overrides)
    return result


def staff(ok=200, anon=302):
    """City admin, county admins and read-only see it; inspectors don't."""
    return same(ok, anon=anon, inspector=403)


EXPECTED = {
    ("main.index", "GET"): same(302),
    ("main.home", "GET"): same(200, anon=302),
    ("main.healthz", "GET"): same(200),
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
}


@pytest.fixture
def actors(make_user):
    users = {
        CITY: make_user(CITY_ADMIN, "411000"),
        COUNTY: make_user(COUNTY_ADMIN, "411002"),
        OTHER: make_user(COUNTY_ADMIN, "411081"),
        INSP: make_user(INSPECTOR, "411002"),
        RO: make_user(READONLY, "411000"),
    }
    return users


@pytest.fixture
def samples(make_user):
    """Values for URL parameters: objects owned by 魏都区 (411002)."""
    target = make_user(INSPECTOR, "411002", username="matrix_target")
    return {"user_id": target.id}


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


def test_route_matrix(app, actors, samples):
    from xcapp.extensions import db

    failures = []
    for rule, method in _routes(app):
        expected = EXPECTED[(rule.endpoint, method)]
        missing = [arg for arg in rule.arguments if arg not in samples]
        assert not missing, f"{rule.endpoint}: no sample value for {missing}"
        with app.test_request_context():
            from flask import url_for
            url = url_for(rule.endpoint, **{arg: samples[arg] for arg in rule.arguments})
        for actor in ACTORS:
            client = app.test_client()
            if actor != ANON:
                user = actors[actor]
                db.session.refresh(user)
                with client.session_transaction() as sess:
                    sess["_user_id"] = user.get_id()
                    sess["_fresh"] = True
            response = client.open(url, method=method)
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
