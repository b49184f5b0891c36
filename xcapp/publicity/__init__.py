"""Publication: the publicity CSV, working days, the PDF of the forms."""
from flask import Blueprint

bp = Blueprint("publicity", __name__, url_prefix="/publicity")

from . import cli, routes  # noqa: E402,F401
