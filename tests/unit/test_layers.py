"""The import-linter contracts in pyproject.toml hold: a lower layer never imports a
higher one, lazily inside a function included (see [tool.importlinter])."""
from __future__ import annotations

from pathlib import Path

import xcapp

ROOT = Path(__file__).resolve().parents[2]


def test_layers_contracts_hold(capsys):
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    # The checkout under test, not some other installed copy of xcapp.
    assert Path(xcapp.__file__).resolve().parent == ROOT / "xcapp"
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert status == EXIT_STATUS_SUCCESS, report
    assert "0 broken" in report
