"""Documents out of the app: the summary report for the province (工作总结统计表), the archive
of a task or a plan (ZIP with a manifest), and the notices (检查通知书, 责令整改通知书, 匹配清单)."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from . import cli, routes  # noqa: E402,F401
