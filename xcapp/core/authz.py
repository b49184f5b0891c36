"""Authorization in one place.

Every view declares who may call it with ``@access(...)``. A single
``before_request`` hook (``enforce_access``) checks that declaration for every
request, and refuses views that declare nothing, so a route added without a
declaration is closed, not open. Data of one unit is scoped by ``scoped()`` and
``get_scoped_or_404()``: a county admin only ever sees rows of its own unit,
an inspector only rows of its own tasks; a row outside the scope is a 404.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort, current_app, request
from flask_login import current_user

from ..extensions import db, login_manager
from .roles import ALL_ROLES, CITY_ADMIN, COUNTY_ADMIN, INSPECTOR, READONLY

PUBLIC = "public"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def access(*roles: str, public: bool = False, session_only: bool = False):
    """Declare the roles allowed to call a view.

    ``public=True`` allows anonymous visitors. The read-only role is refused on
    any non-GET method even when listed, so a read-only supervisor can never
    change data; ``session_only=True`` marks the few POST views that change
    nothing but the caller's own session (logout), which read-only users need.
    """
    for role in roles:
        if role not in ALL_ROLES:
            raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable):
        view.access_roles = PUBLIC if public else frozenset(roles)
        view.access_session_only = session_only

        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        wrapper.access_roles = view.access_roles
        wrapper.access_session_only = session_only
        return wrapper

    return decorator


def enforce_access():
    """before_request hook: apply the view's declaration."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404 / 405 handled by Flask
    if endpoint == "static":
        return None
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "access_roles", None)
    if roles is None:
        current_app.logger.error("view %s declares no access rule; refused", endpoint)
        abort(403)
    if roles == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in roles:
        abort(403)
    if (current_user.role == READONLY and request.method not in SAFE_METHODS
            and not getattr(view, "access_session_only", False)):
        abort(403)
    return None


def can_edit_unit(unit_id: int | None, user=None) -> bool:
    """May the user (default: the current user) change data belonging to this unit?"""
    user = user or current_user
    if not user.is_authenticated:
        return False
    if user.role == CITY_ADMIN:
        return True
    if user.role == COUNTY_ADMIN:
        return unit_id == user.unit_id
    return False


# Inspector scopes that a higher feature adds to a lower feature's model, because the
# scope joins tables the higher feature owns (plans: an inspector sees the enterprises of
# their tasks). model -> function(stmt, user).
_added_inspector_scopes: dict[type, Callable] = {}


def inspector_scope_for(model):
    """Decorator: register ``function(stmt, user)`` as the inspector scope of ``model``,
    from the feature that owns the tables the scope joins (core and the model's own
    feature sit below it and cannot import them)."""
    def decorator(function: Callable) -> Callable:
        _added_inspector_scopes[model] = function
        return function

    return decorator


def scoped(stmt, model, user=None):
    """Restrict a SELECT over ``model`` to what ``user`` may see.

    A model opts in by defining ``unit_scope_column()`` (a column holding the
    owning unit's id) and optionally ``inspector_scope(stmt, user)``, or gets its
    inspector scope from a higher feature through ``inspector_scope_for``; a model
    with neither is visible to city-wide roles only.
    """
    user = user or current_user
    if user.role in (CITY_ADMIN, READONLY):
        return stmt
    if user.role == COUNTY_ADMIN and hasattr(model, "unit_scope_column"):
        return stmt.where(model.unit_scope_column() == user.unit_id)
    if user.role == INSPECTOR:
        scope = _added_inspector_scopes.get(model) or getattr(model, "inspector_scope", None)
        if scope is not None:
            return scope(stmt, user)
    return stmt.where(db.false())


def get_scoped_or_404(model, ident, user=None):
    pk = model.__mapper__.primary_key[0]
    stmt = scoped(db.select(model).where(pk == ident), model, user)
    obj = db.session.scalars(stmt).first()
    if obj is None:
        abort(404)
    return obj


ADMIN_ROLES = (CITY_ADMIN, COUNTY_ADMIN)
STAFF_ROLES = (CITY_ADMIN, COUNTY_ADMIN, READONLY)
EVERYONE = ALL_ROLES
