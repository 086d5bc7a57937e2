"""Measuring a run: the baseline, each phase of webhooks, and the final check of every live view."""

from __future__ import annotations

import time
import urllib.request

from console.bench.attack import run_attack
from console.bench.live import READER_HEADERS, items, run_subscribers
from console.bench.options import BenchOptions
from console.bench.processes import ConsoleProcess, Worker, cpu_seconds, wait_for
from console.bench.stats import ms, percentile
from console.bench.traffic import conference_id, queue_name, run_poster
from console.telnyx import signing


def watches_for(count: int, conferences: int, queues: int) -> list[str]:
    """A mix of pages: 40% dashboard, 40% conference pages, 20% queue pages."""
    watches = []
    for index in range(count):
        kind = index % 5
        if kind in (0, 1):
            watches.append("dashboard")
        elif kind in (2, 3):
            watches.append(f"conference:{conference_id((index // 5 * 2 + kind - 2) % conferences)}")
        else:
            watches.append(f"queue:{queue_name(index // 5 % queues)}")
    return watches


def run_phase(name, rate, console, poster, subscribers, options, budget=None) -> dict:
    """Post webhooks at `rate` per second (None: flat out, up to `budget`) and measure what it cost and took."""
    before_counts = subscribers.ask("counts")
    before_cpu = cpu_seconds(console.pids)
    load = [poster.process.pid, subscribers.process.pid]
    before_load = cpu_seconds(load)
    duration = options.max_duration if rate is None else options.duration
    result = poster.ask("webhooks", rate, duration, options.threads, budget)
    elapsed = result["elapsed"]
    cpu = cpu_seconds(console.pids) - before_cpu
    load_cpu = cpu_seconds(load) - before_load
    settle(subscribers)
    after_counts = subscribers.ask("counts")
    latencies = [value for per in subscribers.ask("latencies", result["markers"]) for value in per]
    k = max(1, len(after_counts))
    messages = sum(a[0] - b[0] for a, b in zip(after_counts, before_counts))
    sent_bytes = sum(a[1] - b[1] for a, b in zip(after_counts, before_counts))
    wire_bytes = sum(a[2] - b[2] for a, b in zip(after_counts, before_counts))
    return {
        "phase": name, "target_rate": rate, "sent": result["sent"], "accepted": result["ok"],
        "failed": result["failed"], "elapsed_s": round(elapsed, 3),
        "accepted_per_s": round(result["ok"] / elapsed, 1),
        "latency_samples": len(latencies),
        "latency_p50_ms": ms(percentile(latencies, 0.50)), "latency_p95_ms": ms(percentile(latencies, 0.95)),
        "latency_p99_ms": ms(percentile(latencies, 0.99)),
        "ack_p50_ms": result["ack_p50_ms"], "ack_p99_ms": result["ack_p99_ms"],
        "frames_per_s_per_subscriber": round(messages / elapsed / k, 2),
        "bytes_per_s_per_subscriber": round(sent_bytes / elapsed / k, 1),
        "wire_bytes_per_s_per_subscriber": round(wire_bytes / elapsed / k, 1),
        "console_cpu_percent": round(100 * cpu / elapsed, 1),
        "load_cpu_percent": round(100 * load_cpu / elapsed, 1),
        "console_peak_rss_mib": round(console.peak_rss_mib(), 1),
    }


def settle(subscribers: Worker, quiet: float = 1.0, timeout: float = 60.0) -> None:
    """Wait until no subscriber has had a message for `quiet` seconds (the hub has caught up)."""
    wait_for(lambda: time.time() - subscribers.ask("quiet") >= quiet, timeout, "the subscribers to go quiet", 0.2)


def check_views(console: ConsoleProcess, views: list[tuple[str, dict, str | None]]) -> dict:
    """Compare each subscriber's list items with the page the console renders from its store now."""
    pages: dict[str, dict[str, str]] = {}
    mismatches = []
    for watch, view, error in views:
        if watch not in pages:
            kind, _, subject = watch.partition(":")
            path = "/" if watch == "dashboard" else f"/{kind}s/{urllib.request.quote(subject, safe='')}"
            page = urllib.request.Request(console.url + path, headers=READER_HEADERS)
            with urllib.request.urlopen(page, timeout=30) as response:
                pages[watch] = items(response.read().decode())
        expected = pages[watch]
        if error or view != expected:
            missing = sorted(set(expected) - set(view))[:5]
            extra = sorted(set(view) - set(expected))[:5]
            differ = sorted(k for k in set(view) & set(expected) if view[k] != expected[k])[:5]
            sample = {"live": view[differ[0]], "page": expected[differ[0]]} if differ else None
            mismatches.append({"watch": watch, "error": error, "missing": missing, "extra": extra, "differ": differ,
                               "sample": sample})
    return {"passed": not mismatches, "subscribers_checked": len(views), "pages_checked": len(pages),
            "items_checked": sum(len(view) for _, view, _ in views), "mismatches": mismatches[:10]}


def measure_baseline(console: ConsoleProcess, poster: Worker, options: BenchOptions) -> dict:
    """GET /healthz flat out from the poster: what the serving process does with no work per request."""
    idle_cpu = cpu_seconds(console.pids)
    baseline = poster.ask("baseline", options.baseline_duration, options.threads)
    rate = baseline["ok"] / baseline["elapsed"]
    cpu = 100 * (cpu_seconds(console.pids) - idle_cpu) / baseline["elapsed"]
    return {"endpoint": "/healthz", "requests": baseline["ok"], "elapsed_s": round(baseline["elapsed"], 3),
            "per_s": round(rate, 1), "console_cpu_percent": round(cpu, 1)}


def run_ingest(options: BenchOptions, workdir: str) -> dict:
    """Start everything, run the baseline and every phase, check the final views, stop everything."""
    key = signing.generate_signing_key()
    console = poster = subscribers = None
    try:
        console = ConsoleProcess(workdir, signing.public_key_b64(key), threads=options.subscribers + 32,
                                 render_process=options.render_process)
        poster = Worker(run_poster, console.port, signing.signing_key_seed(key), conferences=options.conferences,
                        queues=options.queues, seed=options.seed)
        opening = poster.ask("opening", options.threads)
        if opening["failed"]:
            raise RuntimeError(f"{opening['failed']} opening webhooks were refused; the console's log ends:\n"
                               f"{console.log_tail()}")
        watches = watches_for(options.subscribers, options.conferences, options.queues)
        subscribers = Worker(run_subscribers, console.port, watches, deflate=options.deflate)
        wait_for(lambda: subscribers.ask("ready") >= len(watches), 120, "every subscriber's snapshot", 0.2)
        baseline = measure_baseline(console, poster, options)
        phases = [run_phase(f"fixed {rate}/s", rate, console, poster, subscribers, options) for rate in options.rates]
        budget = int(max(options.rates + [1000]) * 4 * options.max_duration)
        phases.append(run_phase("flat out", None, console, poster, subscribers, options, budget))
        settle(subscribers)
        views = check_views(console, subscribers.ask("views"))
        peak = phases[-1]["accepted_per_s"]
        attack = None
        if options.attack:
            _, sockets, never_reading = options.attack_sizes
            attack = run_attack(options, console, poster,
                                watches_for(sockets - never_reading, options.conferences, options.queues))
            settle(subscribers)
            attack["view_check_after"] = check_views(console, subscribers.ask("views"))
        return {
            "subscribers": len(watches),
            "subscribers_compressed": subscribers.ask("compressed"),
            "watches": {w: watches.count(w) for w in ("dashboard",)} | {
                "conference pages": sum(w.startswith("conference:") for w in watches),
                "queue pages": sum(w.startswith("queue:") for w in watches)},
            "baseline": baseline,
            "phases": phases,
            "max_accepted_per_s": peak,
            "ingest_to_baseline_ratio": round(peak / baseline["per_s"], 3) if baseline["per_s"] else None,
            "console_peak_rss_mib": round(console.peak_rss_mib(), 1),
            "final_view_check": views,
        } | ({"attack": attack} if attack else {})
    finally:
        for worker in (subscribers, poster):
            if worker is not None:
                worker.stop()
        if console is not None:
            console.stop()
