"""The large-state phase: flat-out ingest while thousands of conferences are live and pages watch them.

The state (conferences full of participants, a caller waiting in each queue) is written straight
into a fresh database by the poster, whose call center then carries on from it, before a console of
its own starts on that file: building it over HTTP would take minutes and measure nothing new. Then
the subscribers connect, the /healthz baseline is taken in that console, webhooks go flat out over
those conferences, and every subscriber's view is checked against the pages.
"""

from __future__ import annotations

import os
import time

from console.bench.live import run_subscribers
from console.bench.options import BenchOptions
from console.bench.phases import (
    check_views,
    measure_baseline,
    run_phase,
    settle,
    watches_for,
)
from console.bench.processes import ConsoleProcess, Worker, free_port, wait_for
from console.bench.traffic import run_poster
from console.telnyx import signing


def run_large_state(options: BenchOptions, workdir: str) -> dict:
    """Build the large state, start a console on it, and measure flat-out ingest and latency there."""
    conferences, participants, queues = options.large_sizes
    folder = os.path.join(workdir, "large-state")
    os.makedirs(folder, exist_ok=True)
    key = signing.generate_signing_key()
    port = free_port()
    console = poster = subscribers = None
    try:
        poster = Worker(run_poster, port, signing.signing_key_seed(key), conferences=conferences,
                        queues=max(1, queues), seed=options.seed + 1)
        started = time.perf_counter()
        events = poster.ask("seed", os.path.join(folder, "bench.db"), participants)
        build_seconds = time.perf_counter() - started
        console = ConsoleProcess(folder, signing.public_key_b64(key), threads=options.subscribers + 32,
                                 render_process=options.render_process, port=port)
        watches = watches_for(options.subscribers, conferences, max(1, queues))
        started = time.perf_counter()
        subscribers = Worker(run_subscribers, port, watches, deflate=options.deflate)
        wait_for(lambda: subscribers.ask("ready") >= len(watches), 300, "every subscriber's snapshot", 0.2)
        connect_seconds = time.perf_counter() - started
        baseline = measure_baseline(console, poster, options)
        budget = int(max(options.rates + [1000]) * 4 * options.max_duration)
        flat = run_phase("flat out", None, console, poster, subscribers, options, budget)
        settle(subscribers)
        views = check_views(console, subscribers.ask("views"))
        return {
            "state": {"conferences": conferences, "participants_each": participants, "queues": max(1, queues),
                      "events": events, "build_s": round(build_seconds, 2)},
            "subscribers": len(watches),
            "subscribers_connect_s": round(connect_seconds, 2),
            "baseline": baseline,
            "flat_out": flat,
            "ingest_to_baseline_ratio": round(flat["accepted_per_s"] / baseline["per_s"], 3)
            if baseline["per_s"] else None,
            "final_view_check": views,
        }
    finally:
        for worker in (subscribers, poster):
            if worker is not None:
                worker.stop()
        if console is not None:
            console.stop()
