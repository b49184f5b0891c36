"""Odd input never gets a server error (issue 11.13).

First the inputs found from outside (each answered 500 before the fix), then a
property-based walk: every route in ``app.url_map``, for every role, gets odd values in
its URL parameters, in the query parameters its views read and, for a POST, in its form
fields; no answer may be a 5xx (and no exception may escape the app).
"""
from __future__ import annotations

import functools
import inspect
import os
import re
import sys
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.web.test_route_matrix import ACTORS, ANON, ASSIGNED, CITY, _routes  # noqa: F401
from tests.web.test_route_matrix import actors, make_samples, samples  # noqa: F401  (fixtures)

HUGE = str(10 ** 30)


def _as(client, user):
    session_value = user if isinstance(user, str) else user.get_id()
    with client.session_transaction() as sess:
        sess.clear()
        sess["_user_id"] = session_value
        sess["_fresh"] = True


def _chinese_page(response) -> str:
    text = response.get_data(as_text=True)
    assert re.search(r"[\u4e00-\u9fff]", text), text[:300]
    return text


# ---------------------------------------------------------------- the inputs found from outside


@pytest.mark.parametrize("url", [f"/public/plans/{HUGE}", f"/public/plans/{2 ** 63}", f"/public/plans/{2 ** 31}",
                                 f"/public/plans/{HUGE}/bundle.json"])
def test_public_receipt_of_a_huge_plan_id_is_not_found(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "页面不存在" in _chinese_page(response)


def test_public_results_for_a_huge_or_unknown_plan_is_not_found(client):
    for value in (HUGE, str(2 ** 63), "-1", "0", "abc", "12345"):
        response = client.get(f"/public/results?plan={value}")
        assert response.status_code == 404, value
        assert "页面不存在" in _chinese_page(response)
    assert client.get("/public/results?plan=").status_code == 200   # 全部


def test_public_results_of_a_plan(client, task_setup):
    task, _officers, _users = task_setup
    page = client.get(f"/public/results?plan={task.plan_id}")
    assert page.status_code == 200
    assert f'<option value="{task.plan_id}" selected>' in page.get_data(as_text=True)


@pytest.mark.parametrize("start", ["9999-12-31", "9999-12-01", "0001-01-01"])
def test_workday_deadline_at_the_edge_of_the_calendar(client, auth, make_user, start):
    auth.login_as(make_user("readonly", "411000"))
    response = client.get(f"/publicity/workdays?start={start}&n=20")
    assert response.status_code == 422
    assert "检查日期应在" in _chinese_page(response)


@pytest.mark.parametrize("n", [HUGE, str(10 ** 9), "-5", "abc"])
def test_workday_count_out_of_range(client, auth, make_user, n):
    auth.login_as(make_user("readonly", "411000"))
    started = time.monotonic()
    response = client.get(f"/publicity/workdays?start=2023-09-25&n={n}")
    assert time.monotonic() - started < 2
    assert response.status_code == 422
    assert "工作日数应为" in _chinese_page(response)


def test_workday_deadline_still_computed(client, auth, make_user):
    auth.login_as(make_user("readonly", "411000"))
    response = client.get("/publicity/workdays?start=2023-09-25&n=20")
    assert response.status_code == 200
    assert "2023-10-27" in response.get_data(as_text=True)


def test_add_workdays_past_the_last_date_is_unknown_not_an_overflow():
    from datetime import date

    from xcapp.publicity.workdays import CalendarUnknown, WorkdayCalendar

    calendar = WorkdayCalendar(covered_years=[9999], library=None)
    with pytest.raises(CalendarUnknown):
        calendar.add_workdays(date(9999, 12, 30), 5)
    assert calendar.deadline_or_none(date(9999, 12, 30), 5) is None
    assert calendar.deadline_or_none(date(1, 1, 3), -5) is None


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31",
                                   f"page={HUGE}", f"page={2 ** 63}"])
def test_audit_log_with_extreme_days_and_pages(client, auth, make_user, query):
    from xcapp.audit.services import record
    from xcapp.extensions import db

    auth.login_as(make_user("city_admin", "411000"))
    record("test.fuzz", object_type="test", object_id="1")
    db.session.commit()
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert "test.fuzz" in response.get_data(as_text=True)


# ---------------------------------------------------------------- every route, every role, odd values

# Drawn examples per route, method and role that gets through (see _plan); FUZZ_TRACE=1 prints
# every request and the slowest routes.
TRACE = bool(os.environ.get("FUZZ_TRACE"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))

INTISH = st.one_of(
    st.sampled_from(["0", "00", str(2 ** 31 - 1), str(2 ** 31), str(2 ** 63), HUGE, "9" * 400, "1" * 5000]),
    # no small positive ids: they would hit the users and objects of the fixtures by chance
    st.integers(10 ** 6, 10 ** 40).map(str),
    st.integers(-10 ** 20, -1).map(str),
)
DATES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "2023-02-30", "2023-13-01", "2023-00-10", "1900-01-01",
                     "2100-12-31", "20230925", "2023-9-5", "2023-09-25T08:00", "9999-12-31T23:59:59"]),
    st.dates().map(lambda d: d.isoformat()),
)
TEXTS = st.one_of(
    st.sampled_from([
        "", " ", "\t", "x" * 5000, "中" * 2000, "' OR '1'='1", "1; DROP TABLE users; --", "%", "_", "\\",
        "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{7*7}}", "%s%n", "../../../etc/passwd",
        "=cmd|' /C calc'!A0", "\u202e\u200b\ufeff", "🙂" * 10, "null", "NaN", "-inf", "1e309", "true", "[]",
        "\x01\x02\x1b[31m\x7f", "\r\n", "１２３", "١٢", "²", "0x10", "+1", " 1 ", "1.5",
    ]),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40),
)
ODD = st.one_of(INTISH, DATES, TEXTS)

_SEGMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_ARGS = re.compile(r"""args\.get(?:list)?\(\s*["'](\w+)["']|args\[\s*["'](\w+)["']\s*\]""")
_FORM = re.compile(r"""form\.get(?:list)?\(\s*["'](\w+)["']|form\[\s*["'](\w+)["']\s*\]"""
                   r"""|["'](\w+)["']\s+in\s+request\.form""")
_FORM_TUPLE = re.compile(r"""for \w+ in \(([^)]*)\)\s*if \w+ in request\.form""")
_FILES = re.compile(r"""files\.get(?:list)?\(\s*["'](\w+)["']""")


def _reached(view, depth: int = 3) -> list:
    """The view and the xcapp functions and form classes it names (its helpers read the
    request too: list filters, form parsers), to ``depth`` levels."""
    seen, todo, found = set(), [inspect.unwrap(view)], []
    for _ in range(depth):
        nxt = []
        for obj in todo:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            found.append(obj)
            if not inspect.isfunction(obj):
                continue
            namespace = sys.modules[obj.__module__].__dict__
            for name in set(re.findall(r"\b\w+\b", _source(obj))):
                target = namespace.get(name)
                if (inspect.isfunction(target) or inspect.isclass(target)) and \
                        getattr(target, "__module__", "").startswith("xcapp"):
                    nxt.append(target)
        todo = nxt
    return found


@functools.cache
def _source(obj) -> str:
    return inspect.getsource(obj)


def _parameters(view) -> tuple[set, set, set]:
    """(query names, form field names, file field names) the view reads."""
    from wtforms.fields.core import UnboundField

    query, form, files = set(), set(), set()
    for obj in _reached(view):
        if inspect.isclass(obj):
            form |= {name for name in dir(obj) if isinstance(getattr(obj, name, None), UnboundField)}
            continue
        source = _source(obj)
        query |= {a or b for a, b in _ARGS.findall(source)}
        form |= {a or b or c for a, b, c in _FORM.findall(source)}
        for group in _FORM_TUPLE.findall(source):
            form |= set(re.findall(r"""["'](\w+)["']""", group))
        files |= set(_FILES.findall(source))
    return query, form, files


def _ordered_routes(app):
    """Logging out ends the session on the server: last, so the other routes keep their users."""
    return sorted(_routes(app), key=lambda pair: (pair[0].endpoint == "auth.logout", pair[0].rule, pair[1]))


def _request_strategy(rule, method, samples, query_names, form_names, file_names):
    url_values = {}
    for match in _SEGMENT.finditer(rule.rule):
        name, converter = match["name"], match["converter"] or "default"
        odd = st.one_of(INTISH, TEXTS) if converter == "int" else ODD
        url_values[name] = st.one_of(st.just(str(samples[name])), odd) if name in samples else odd
    files = {name: st.tuples(st.binary(max_size=64), TEXTS) for name in file_names}
    return st.fixed_dictionaries({
        "url": st.fixed_dictionaries(url_values),
        "query": st.fixed_dictionaries({}, optional={name: ODD for name in sorted(query_names)}),
        "form": st.fixed_dictionaries({}, optional={name: ODD for name in sorted(form_names)})
        if method == "POST" else st.just({}),
        "files": st.fixed_dictionaries({}, optional=files) if method == "POST" else st.just({}),
        "htmx": st.booleans(),
    })


def _url(rule, values: dict) -> str:
    return _SEGMENT.sub(lambda m: quote(values[m["name"]], safe=""), rule.rule)


def _check(rule, method, actor, client, user):
    """One request of ``actor`` with the drawn values: never a 5xx, never an escaping exception."""
    import io

    from xcapp.extensions import db

    def check(request):
        if user is None:
            with client.session_transaction() as sess:
                sess.clear()
        else:
            _as(client, user)
        url = _url(rule, request["url"])
        data = dict(request["form"])
        for name, (content, filename) in request["files"].items():
            data[name] = (io.BytesIO(content), filename)
        headers = {"HX-Request": "true"} if request["htmx"] else {}
        shown = f"{method} {url} query={request['query']!r:.300} form={request['form']!r:.300} as {actor}"
        try:
            response = client.open(url, method=method, query_string=request["query"], data=data, headers=headers)
        except Exception as exc:  # an exception escaping the app is a 500 in production
            db.session.rollback()
            raise AssertionError(f"{shown}: {type(exc).__name__}: {exc}"[:1500].replace("\n", " ")) from None
        status = response.status_code
        response.close()
        if TRACE:
            print(status, shown[:400])
        assert status < 500, f"{shown}: {status}"

    return check


def _small(bodies):
    """A two-line test function (hypothesis hashes the source of the function it runs)."""
    def check(pair):
        bodies[pair[0]](pair[1])
    return check


def _passes_authorization(view, method: str, actor: str, user) -> bool:
    """Does the role get past ``@access`` (so the view reads its parameters)?"""
    from xcapp.core.authz import PUBLIC, SAFE_METHODS
    from xcapp.core.roles import READONLY

    roles = getattr(view, "access_roles", None)
    if roles == PUBLIC:
        return True
    if actor == ANON or roles is None or user.role not in roles:
        return False
    return not (user.role == READONLY and method not in SAFE_METHODS
                and not getattr(view, "access_session_only", False))


def _edges(rule, samples, query_names, form_names, method):
    """The values found from outside: first every URL parameter odd, then a huge number, the
    first and the last day of the calendar in every query and form parameter at once (with the
    objects of the fixtures in the URL, so the view runs). A route without parameters: one."""
    segments = list(_SEGMENT.finditer(rule.rule))
    found = []
    if segments:
        found.append({"url": {m["name"]: (HUGE if m["converter"] == "int" else "9999-12-31" + "x" * 300)
                              for m in segments}, "query": {}, "form": {}, "files": {}, "htmx": True})
    valid = {m["name"]: str(samples.get(m["name"], "x")) for m in segments}
    for value in (HUGE, "0001-01-01", "9999-12-31"):
        found.append({"url": valid, "query": dict.fromkeys(query_names, value),
                      "form": dict.fromkeys(form_names, value) if method == "POST" else {}, "files": {},
                      "htmx": False})
    return list({repr(edge): edge for edge in found}.values())


def _is_document(rule) -> bool:
    """A download (PDF, ZIP, CSV, JSON, ...): slow to build and reading only ids; the edge values only."""
    return bool(re.search(r"(\.[^/]+|/pdf|/export)$", rule.rule))


def _plan(rule, method, view, edges, has_parameters: bool, actors) -> dict:
    """actor -> (explicit examples, drawn examples) for one route: what the walk sends.

    A role that ``@access`` refuses never reaches the view: one request with odd URL values
    (the routing). A role that gets through gets every edge value and EXAMPLES drawn ones.
    Where the role changes nothing but the answer's size, one role is enough: documents
    (PDF, ZIP: slow to build, reading ids only) and routes without parameters are built for
    the first role that may see them; public pages are walked as a visitor and as the city.
    The assigned officer differs from any inspector only on a route naming an object.
    """
    from xcapp.core.authz import PUBLIC

    plan, first = {}, None
    for actor in ACTORS:
        if actor == ASSIGNED and "<" not in rule.rule:
            continue
        if not _passes_authorization(view, method, actor, actors.get(actor)):
            plan[actor] = (edges[:1], 0)
            continue
        first = first or actor
        if not has_parameters:
            if actor == first:
                plan[actor] = (edges[:1], 0)
        elif _is_document(rule):
            plan[actor] = (edges[:2] if actor == first else edges[:1], 0)
        elif getattr(view, "access_roles", None) == PUBLIC and actor not in (ANON, CITY):
            plan[actor] = (edges[:1], 0)
        else:
            plan[actor] = (edges, EXAMPLES)
    return plan


def test_no_route_answers_a_server_error_to_odd_input(app, actors, samples):  # noqa: F811
    """Every route x every role x odd URL, query and form values: never a 5xx (see ``_plan``).

    Hypothesis draws the values, seeded per route and role, so every run sends the same
    requests; ``FUZZ_EXAMPLES`` sets the drawn examples per route and role (default 2),
    ``FUZZ_TRACE=1`` prints every request and the slowest routes.
    """
    import zlib

    from hypothesis import seed

    failures, timings = [], []
    started, cpu = time.monotonic(), time.process_time()
    clients = {actor: app.test_client() for actor in ACTORS}
    session_values = {actor: user.get_id() for actor, user in actors.items()}
    routes = _ordered_routes(app)
    requests = 0
    for rule, method in routes:
        view = app.view_functions[rule.endpoint]
        query_names, form_names, file_names = _parameters(view)
        has_parameters = bool(rule.arguments or query_names or (method == "POST" and (form_names or file_names)))
        edges = _edges(rule, samples, query_names, form_names, method)
        plan = _plan(rule, method, view, edges, has_parameters, actors)
        bodies = {actor: _check(rule, method, actor, clients[actor], session_values.get(actor)) for actor in plan}
        t0 = time.monotonic()
        for actor, (explicit, _drawn) in plan.items():
            for edge in explicit:
                requests += 1
                try:
                    bodies[actor](edge)
                except AssertionError as exc:
                    failures.append(str(exc))
        drawing = [actor for actor, (_explicit, drawn) in plan.items() if drawn]
        if drawing:
            strategy = st.tuples(st.sampled_from(drawing),
                                 _request_strategy(rule, method, samples, query_names, form_names, file_names))
            run = settings(max_examples=EXAMPLES * len(drawing), database=None, deadline=None,
                           phases=[Phase.generate], suppress_health_check=list(HealthCheck))(
                given(strategy)(_small(bodies)))
            run = seed(zlib.crc32(f"{rule.rule} {method}".encode()))(run)
            requests += EXAMPLES * len(drawing)
            try:
                run()
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            except BaseExceptionGroup as group:   # several different failures of one route
                failures += [str(exc).splitlines()[0] for exc in group.exceptions]
        timings.append((time.monotonic() - t0, rule.endpoint, method))
    elapsed = time.monotonic() - started
    if TRACE:
        per_endpoint = {}
        for spent, endpoint, method in timings:
            per_endpoint[(endpoint, method)] = per_endpoint.get((endpoint, method), 0) + spent
        for what, spent in sorted(per_endpoint.items(), key=lambda kv: -kv[1])[:25]:
            print(f"{spent:6.2f} s {what}")
    print(f"fuzzed {len(routes)} routes, about {requests} requests, in {elapsed:.1f} s "
          f"({time.process_time() - cpu:.1f} s CPU)")
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures)


# ---------------------------------------------------------------- found by the walk above


@pytest.mark.parametrize("url", ["/registry/officers?format=0001-01-01", "/registry/enterprises?format=csv",
                                 f"/registry/officers?category={HUGE}", f"/registry/enterprises?category={HUGE}",
                                 "/registry/enterprises?category=²", f"/registry/equipment/export?category={HUGE}"])
def test_registry_lists_take_any_filter(client, auth, make_user, url):
    auth.login_as(make_user("city_admin", "411000"))
    assert client.get(url).status_code == 200


def test_checklist_of_a_huge_revision_is_not_found(started, client):
    task, _officers, _users, _inspection = started
    assert client.get(f"/inspections/tasks/{task.id}?revision={HUGE}").status_code == 404
    assert client.get(f"/inspections/tasks/{task.id}?revision=1").status_code == 200


@pytest.mark.parametrize("query", ["endpoint=x", "_anchor=x&_external=1", "_scheme=javascript", "_method=POST"])
def test_pagers_keep_odd_query_names(client, auth, make_user, make_officer, query):
    """The pager links repeat the query string: a name that url_for() takes for itself
    (endpoint, _anchor, _external, _scheme, _method) must not break the page."""
    from xcapp.audit.services import record
    from xcapp.extensions import db

    auth.login_as(make_user("city_admin", "411000"))
    for n in range(51):
        record("test.fuzz", object_type="test", object_id=str(n))
    db.session.commit()
    for _ in range(31):
        make_officer(unit="411002")
    for path in ("/audit/", "/registry/officers"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, query
        text = response.get_data(as_text=True)
        assert f'href="{path}?' in text and "page=2" in text and "下一页" in text, query
