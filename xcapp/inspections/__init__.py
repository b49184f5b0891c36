from flask import Blueprint

bp = Blueprint("inspections", __name__, url_prefix="/inspections")

from . import cli, display, routes  # noqa: E402,F401


@bp.record_once
def _connect_signals(_state) -> None:
    """Inspections follows events of the features below it (see core/signals.py)."""
    from ..core.signals import officer_replaced
    from .evidence import void_signatures_of

    officer_replaced.connect(void_signatures_of)
