"""A non-editable install finds its templates and static files inside the package."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK = textwrap.dedent(
    """
    import sys, console
    from console import create_app
    assert "site-packages" in console.__file__, console.__file__
    app = create_app({"CONSOLE_DATABASE": sys.argv[1], "CONSOLE_DEMO": True})
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"<html" in page.data, page.status_code
    style = client.get("/static/console.css")
    assert style.status_code == 200 and len(style.data) > 100, style.status_code
    script = client.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200, script.status_code
    print("installed-ok", console.__file__)
    """
)


@pytest.mark.slow
def test_wheel_install_in_fresh_venv_serves_template_and_static(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=300,
    )
    wheel = next(wheels.glob("supervisor_console-*.whl"))
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # Dependencies come from the test environment; the package itself only from the wheel.
    Path(fresh_site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    result = subprocess.run(
        [str(python), "-c", CHECK, str(tmp_path / "console.db")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "installed-ok" in result.stdout and str(ROOT / "console") not in result.stdout
