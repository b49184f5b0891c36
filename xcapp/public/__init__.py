"""Public pages without login: the draw receipts (公开) and, later, the results (公示)."""
from flask import Blueprint

bp = Blueprint("public", __name__, url_prefix="/public")

from . import routes  # noqa: E402,F401
