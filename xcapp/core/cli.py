"""What every feature's commands share. The commands live with their feature (`<feature>/cli.py`,
on the blueprint's `bp.cli`); the app registers the blueprints with `cli_group=None`, so each
feature's groups stand at the top: `flask users create`, `flask plans draw`, `flask purge`."""
from __future__ import annotations

import sys

import click


def fail(message: str, code: int = 1):
    click.echo(message, err=True)
    sys.exit(code)


def write_output(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
    click.echo(f"已写入 {path}")
