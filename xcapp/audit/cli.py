"""`flask audit verify`: check the audit log's hash chain."""
from __future__ import annotations

import click

from ..core.cli import fail
from . import bp


@bp.cli.group("audit")
def audit_cli():
    """审计日志 (audit log)"""


@audit_cli.command("verify")
def audit_verify():
    """Verify the hash chain; exit 1 naming the first bad row."""
    from .services import verify_chain

    result = verify_chain()
    if result.ok:
        click.echo(f"audit chain OK: {result.count} rows")
        return
    fail(f"audit chain BROKEN at row {result.bad_id}: {result.message} "
         f"({result.count} rows verified before it)")
