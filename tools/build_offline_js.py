"""Build static/js/offline.min.js, the phone's offline code as served in production:
the vendored idb-keyval, sync.js and autosave.js, minified by terser into one file
(one request instead of three, 8 KB gzipped instead of 13 KB). The readable sources
are served in debug mode. The first line records the SHA-256 of each source, so
tests/unit/test_offline_bundle.py fails when a source changed and the bundle was not
rebuilt.

    python tools/build_offline_js.py        # needs terser: npm install terser@5, or TERSER=/path/to/terser
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "static" / "js"
SOURCES = ["vendor/idb-keyval-6.3.0.umd.js", "sync.js", "autosave.js"]
OUTPUT = JS / "offline.min.js"


def header() -> str:
    parts = [f"{name} {hashlib.sha256((JS / name).read_bytes()).hexdigest()[:16]}" for name in SOURCES]
    return "/* xcapp offline bundle, built by tools/build_offline_js.py from: " + "; ".join(parts) + \
        ". idb-keyval (c) Jake Archibald, Apache-2.0, see vendor/idb-keyval-6.3.0.LICENCE */\n"


def main() -> int:
    terser = os.environ.get("TERSER") or shutil.which("terser")
    if not terser:
        print("terser not found: npm install terser@5, or set TERSER", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        joined = Path(tmp) / "bundle.js"
        joined.write_text("\n;\n".join((JS / name).read_text(encoding="utf-8") for name in SOURCES), encoding="utf-8")
        out = Path(tmp) / "bundle.min.js"
        subprocess.run([terser, str(joined), "-c", "-m", "--comments", "false", "-o", str(out)], check=True)
        OUTPUT.write_text(header() + out.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    print(f"written {OUTPUT.relative_to(ROOT)} ({OUTPUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
