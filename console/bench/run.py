"""`supervisor-console bench`: ingest rate, webhook-to-frame latency and cost, against a trivial baseline.

The console runs under gunicorn (gthread) as a subprocess on a free 127.0.0.1 port with a temporary
database and a freshly made key. One process holds K WebSocket subscribers (dashboard, conference
and queue pages); another posts signed webhooks, first at fixed rates and then flat out, and in
the same run hammers /healthz for the baseline. Figures go to a table on stdout and to JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

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
    failed = figures.get("ingest", {}).get("final_view_check", {}).get("passed") is False
    return 1 if failed else 0
