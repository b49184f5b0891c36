"""Build the minified scripts served in production, with terser:

- ``static/js/offline.min.js``: the phone's offline code, the vendored idb-keyval, sync.js
  and autosave.js in one file (one request instead of three, 8 KB gzipped instead of 13 KB);
- ``static/js/app.min.js`` and ``static/js/signature.min.js``: the scripts of every page
  and of the checklist, on the first load of a phone on a slow network (40 KB budget).

The readable sources are served in debug mode (``static_url`` picks ``x.min.js`` for
``x.js`` outside debug when it exists). The first line of each output records the
SHA-256 of its sources, so tests/unit/test_offline_bundle.py fails when a source
changed and the output was not rebuilt.

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
IDB_NOTE = " idb-keyval (c) Jake Archibald, Apache-2.0, see vendor/idb-keyval-6.3.0.LICENCE"
BUNDLES = {
    "offline.min.js": (["vendor/idb-keyval-6.3.0.umd.js", "sync.js", "autosave.js"], IDB_NOTE),
    "app.min.js": (["app.js"], ""),
    "signature.min.js": (["signature.js"], ""),
}
# Kept for the offline bundle's callers.
SOURCES, _ = BUNDLES["offline.min.js"]
OUTPUT = JS / "offline.min.js"


def header(name: str = "offline.min.js") -> str:
    sources, note = BUNDLES[name]
    parts = [f"{source} {hashlib.sha256((JS / source).read_bytes()).hexdigest()[:16]}" for source in sources]
    return f"/* xcapp {name}, built by tools/build_offline_js.py from: " + "; ".join(parts) + "." + note + " */\n"


def main() -> int:
    terser = os.environ.get("TERSER") or shutil.which("terser")
    if not terser:
        print("terser not found: npm install terser@5, or set TERSER", file=sys.stderr)
        return 2
    for name, (sources, _note) in BUNDLES.items():
        output = JS / name
        with tempfile.TemporaryDirectory() as tmp:
            joined = Path(tmp) / "bundle.js"
            joined.write_text("\n;\n".join((JS / s).read_text(encoding="utf-8") for s in sources), encoding="utf-8")
            out = Path(tmp) / "bundle.min.js"
            subprocess.run([terser, str(joined), "-c", "-m", "--comments", "false", "-o", str(out)], check=True)
            output.write_text(header(name) + out.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        print(f"written {output.relative_to(ROOT)} ({output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
