from flask import render_template, request
from jinja2_fragments.flask import render_block

from ..core.authz import access
from ..core.models import all_units
from ..core.roles import CITY_ADMIN
from ..core.timeutil import CST
from ..htmx import is_htmx
from . import bp, queries
from .services import verify_chain


@bp.route("/")
@access(CITY_ADMIN)
def log():
    args = request.args
    p = queries.log_page(args)
    ctx = dict(rows=p.rows, total=p.total, page=p.page, pages=p.pages,
               units=all_units(), args=args, tz=CST)
    if is_htmx():
        return render_block("audit/log.html", "results", **ctx)
    return render_template("audit/log.html", **ctx)


@bp.route("/verify")
@access(CITY_ADMIN)
def verify():
    result = verify_chain()
    return render_template("audit/_verify.html", result=result)
