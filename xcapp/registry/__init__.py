from flask import Blueprint

bp = Blueprint("registry", __name__, url_prefix="/registry")

from . import cli, routes  # noqa: E402,F401
