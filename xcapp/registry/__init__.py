from flask import Blueprint

bp = Blueprint("registry", __name__, url_prefix="/registry")

from . import routes  # noqa: E402,F401
