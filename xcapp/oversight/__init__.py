"""Oversight: completion and publication per unit against the 100 % target."""
from flask import Blueprint

bp = Blueprint("oversight", __name__, url_prefix="/oversight")

from . import routes  # noqa: E402,F401
