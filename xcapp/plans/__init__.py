from flask import Blueprint

bp = Blueprint("plans", __name__, url_prefix="/plans")

from . import routes  # noqa: E402,F401
