"""A real package: the wheel carries templates/, static/ and migrations/ (mapped into the
package by hatch_build.py), and an xcapp installed from it works outside the checkout:
`flask db upgrade` runs the packaged migrations and the login page renders.

The wheel goes into a fresh venv in a temporary folder with --no-deps --no-index; the
third-party packages are then borrowed from this test environment through a .pth file
(after the venv's own site-packages), so the test needs no network and checks xcapp's
own files, which is what the build decides."""
from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.wheel

CHECK = r"""
import json, sqlite3, sys
import xcapp
from xcapp import create_app
from xcapp.extensions import db

app = create_app()
with app.test_client() as client:
    login = client.get("/auth/login")
    css = client.get("/static/css/app.css")
head = sqlite3.connect(sys.argv[1]).execute("SELECT version_num FROM alembic_version").fetchone()[0]
print(json.dumps({
    "xcapp": xcapp.__file__, "templates": app.template_folder, "static": app.static_folder,
    "instance": app.instance_path, "status": login.status_code, "page": login.get_data(as_text=True),
    "css": css.status_code, "head": head,
}))
"""


def _run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def test_wheel_installed_outside_the_checkout_serves_the_login_page(tmp_path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    dist, venv, run = tmp_path / "dist", tmp_path / "venv", tmp_path / "run"
    run.mkdir()

    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(dist), str(ROOT)])
    wheel, = dist.glob("xcapp-*.whl")

    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                   .stdout.strip())
    borrowed = [p for p in [*site.getsitepackages(), sysconfig.get_paths()["purelib"]] if os.path.isdir(p)]
    (purelib / "zz_test_dependencies.pth").write_text("\n".join(dict.fromkeys(borrowed)) + "\n")

    database = tmp_path / "xcapp.db"
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "XCAPP_INSTANCE", "FLASK_APP", "SECRET_KEY")}
    env.update(DATABASE_URL=f"sqlite:///{database}", XCAPP_ENV="production", SECRET_KEY="x" * 64,
               PUBLIC_BASE_URL="http://127.0.0.1:5000", SESSION_COOKIE_SECURE="0")
    _run([str(python), "-m", "flask", "--app", "xcapp", "db", "upgrade"], cwd=run, env=env)
    out = json.loads(_run([str(python), "-c", CHECK, str(database)], cwd=run, env=env).stdout.splitlines()[-1])

    site_packages = purelib.resolve()
    for key in ("xcapp", "templates", "static", "instance"):
        assert not Path(out[key]).resolve().is_relative_to(ROOT), (key, out[key])
    for key in ("xcapp", "templates", "static"):
        assert Path(out[key]).resolve().is_relative_to(site_packages / "xcapp"), (key, out[key])
    # An installed app keeps its instance folder under the venv, not inside site-packages.
    assert Path(out["instance"]).resolve() == (venv / "var" / "xcapp-instance").resolve()
    assert out["status"] == 200 and "登录" in out["page"]
    assert out["css"] == 200
    newest = sorted((ROOT / "migrations" / "versions").glob("[0-9]*.py"))[-1].read_text()
    assert re.search(r"^revision = ['\"](.+)['\"]", newest, re.M).group(1) == out["head"]
