"""The embedded mode (CONSOLE_REDIS_URL unset or empty) never loads redis: one process, one SQLite file, no other service.

Checked in a fresh interpreter each time, since this test process has loaded redis already for the
distributed mode's tests; the child prints what it saw as JSON and the verdict is made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Builds an app on a file database, asks what load balancers ask, and says which redis modules got loaded.
SERVE_PROBE = """
import json, sys
from console.web.app import create_app
app = create_app({"CONSOLE_DATABASE": sys.argv[1]})
with app.test_client() as client:
    statuses = {path: client.get(path).status_code for path in ("/healthz", "/readyz")}
loaded = sorted(name for name in sys.modules if name == "redis" or name.startswith("redis."))
print(json.dumps({"statuses": statuses, "redis": loaded, "cluster": "console.cluster" in app.extensions}))
"""

# Imports the lease module alone, then makes a client the way the distributed mode does.
IMPORT_PROBE = """
import json, sys
import console.cluster.lease
before = "redis" in sys.modules
import redis
lease = console.cluster.lease.Lease(redis.Redis(), "probe:lease", "probe", 1000)
print(json.dumps({"before_client": before, "after_client": "redis" in sys.modules}))
"""


def run_probe(source: str, *args: str, **environment: str | None) -> dict:
    """Run `source` in a fresh interpreter with the checkout importable; its last line of output, as JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, value in environment.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    done = subprocess.run([sys.executable, "-c", source, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("redis_url", [None, ""], ids=["unset", "empty"])
def test_the_embedded_mode_answers_health_checks_without_loading_redis(tmp_path, redis_url):
    seen = run_probe(SERVE_PROBE, str(tmp_path / "console.db"), CONSOLE_REDIS_URL=redis_url)
    assert seen["statuses"] == {"/healthz": 200, "/readyz": 200}
    assert seen["redis"] == []
    assert not seen["cluster"]


def test_importing_the_lease_does_not_import_redis_until_a_client_is_made():
    seen = run_probe(IMPORT_PROBE)
    assert seen == {"before_client": False, "after_client": True}
