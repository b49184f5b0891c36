"""The minified offline bundle served in production is built from the current sources."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_offline_bundle_is_built_from_the_current_sources():
    spec = importlib.util.spec_from_file_location("build_offline_js", ROOT / "tools" / "build_offline_js.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    first_line = build.OUTPUT.read_text(encoding="utf-8").splitlines()[0] + "\n"
    assert first_line == build.header(), "run: python tools/build_offline_js.py (sources changed)"
