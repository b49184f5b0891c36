from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans")

from . import cli, routes  # noqa: E402,F401
