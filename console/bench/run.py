"""`supervisor-console bench`: ingest rate, webhook-to-frame latency and cost, against a trivial baseline.

The console runs under gunicorn (gthread) as a subprocess on a free 127.0.0.1 port with a temporary
database and a freshly made key. One process holds K WebSocket subscribers (dashboard, conference
and queue pages); another posts signed webhooks, first at fixed rates and then flat out, and in
the same run hammers /healthz for the baseline. Then hostile clients are held open while webhooks
keep arriving (attack.py), and a second console is measured at a large live state (large.py).
With --instances N, N consoles on one Redis are measured against the embedded one instead (instances.py).
Figures go to a table on stdout and to JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from console.bench.day import run_day
from console.bench.instances import instances_lost, run_instances
from console.bench.large import run_large_state
from console.bench.options import BenchOptions, options_from
from console.bench.pages import measure_pages
from console.bench.phases import run_ingest
from console.bench.report import machine, table


def run(options: BenchOptions) -> dict:
    """The whole benchmark as one JSON-ready dict."""
    workdir = tempfile.mkdtemp(prefix="supervisor-console-bench-")
    try:
        figures = {"machine": machine(), "options": {k: v for k, v in vars(options).items()}}
        if options.ingest:
            figures["ingest"] = run_ingest(options, workdir)
        if options.large_state:
            figures["large_state"] = run_large_state(options, workdir)
        if options.day:
            figures["day"] = run_day(options, workdir)
        if options.instances:
            figures["instances"] = run_instances(options, workdir)
        if options.pages:
            figures["pages"] = measure_pages(os.path.join(workdir, "pages.db"), *options.page_sizes)
        return figures
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(args) -> int:
    """The `bench` subcommand: run, print the table, write the JSON; exit 1 when the view check failed."""
    figures = run(options_from(args))
    print(table(figures), flush=True)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(figures, out, indent=2)
    return 1 if lost(figures) else 0


def lost(figures: dict) -> bool:
    """Whether anything was lost: a live view that differs from its page, or an accepted webhook not logged."""
    ingest, large, day = figures.get("ingest", {}), figures.get("large_state", {}), figures.get("day", {})
    attack = ingest.get("attack", {})
    checks = [ingest.get("final_view_check"), large.get("final_view_check"), attack.get("view_check_after"),
              day.get("final_view_check")]
    day_lost = bool(day) and not (day["webhooks"]["all_accepted"] and day["log"]["all_logged"])
    return any(check and not check["passed"] for check in checks) or attack.get("log", {}).get("missing", 0) > 0 \
        or day_lost or instances_lost(figures.get("instances", {}))
