"""The minified scripts served in production are built from the current sources."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location("build_offline_js", ROOT / "tools" / "build_offline_js.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


@pytest.mark.parametrize("name", sorted(build.BUNDLES))
def test_minified_script_is_built_from_the_current_sources(name):
    first_line = (build.JS / name).read_text(encoding="utf-8").splitlines()[0] + "\n"
    assert first_line == build.header(name), "run: python tools/build_offline_js.py (sources changed)"
