"""Where the files that are not Python are. templates/, static/ and migrations/ sit at the
top of the repository; the wheel carries them inside the package (pyproject.toml,
hatch_build.py), so an installed xcapp finds them beside its code and a checkout (also
an editable install) finds them one folder up."""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Installed from the wheel: the folders are inside the package.
INSTALLED = (PACKAGE / "templates").is_dir()
BASE = PACKAGE if INSTALLED else PACKAGE.parent

TEMPLATES = BASE / "templates"
STATIC = BASE / "static"
MIGRATIONS = BASE / "migrations"
