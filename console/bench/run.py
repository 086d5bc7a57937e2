"""`supervisor-console bench`: ingest rate, webhook-to-frame latency and cost, against a trivial baseline.

The console runs under gunicorn (gthread) as a subprocess on a free 127.0.0.1 port with a temporary
database and a freshly made key. One process holds K WebSocket subscribers (dashboard, conference
and queue pages); another posts signed webhooks, first at fixed rates and then flat out, and in
the same run hammers /healthz for the baseline. Figures go to a table on stdout and to JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

from console.bench.live import items, run_subscribers
from console.bench.server import READER_HEADERS
from console.bench.traffic import conference_id, queue_name, run_poster
from console.telnyx import signing

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class BenchOptions:
    """What to run: sizes, rates and durations (the defaults are the full benchmark)."""

    subscribers: int = 100
    rates: list[int] = field(default_factory=lambda: [200, 500, 1000])
    duration: float = 10.0
    max_duration: float = 10.0
    baseline_duration: float = 5.0
    conferences: int = 40
    queues: int = 10
    # Telnyx delivers webhooks from many senders at once; eight connections capped the offered rate
    # by their round trips rather than by the console.
    threads: int = 16
    seed: int = 7
    render_process: bool = True
    # Subscribers offer permessage-deflate as browsers do; off shows what compressing frames costs.
    deflate: bool = True
    ingest: bool = True
    pages: bool = False
    page_sizes: tuple[int, int, int, int] = (500, 8, 50, 100)


def quick(options: BenchOptions) -> BenchOptions:
    """Shrink a run so it takes well under a minute."""
    options.subscribers = min(options.subscribers, 20)
    options.rates = [100, 200]
    options.duration = options.max_duration = 3.0
    options.baseline_duration = 2.0
    options.conferences = min(options.conferences, 12)
    options.queues = min(options.queues, 4)
    options.page_sizes = (100, 8, 10, 100)
    return options


# -- the server subprocess ----------------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """PIDs whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def memory_kib(pid: int, field_name: str) -> int:
    """A /proc/<pid>/status memory figure (VmRSS, VmHWM) in KiB, 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ConsoleProcess:
    """The console under gunicorn, started as a subprocess and stopped by PID."""

    def __init__(self, workdir: str, public_key: str, threads: int, render_process: bool = True):
        self.port = free_port()
        self.log = open(os.path.join(workdir, "console.log"), "wb")  # noqa: SIM115  closed by stop()
        self.workers: list[int] = []
        command = [sys.executable, "-m", "console.bench.server", "--port", str(self.port),
                   "--database", os.path.join(workdir, "bench.db"), "--public-key", public_key,
                   "--threads", str(threads), "--render-process" if render_process else "--no-render-process"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_for(lambda: self.process.poll() is not None or _answers(f"{self.url}/healthz"), 60, "the console")
            if self.process.poll() is not None:
                raise RuntimeError("the console exited early")
            self.workers = wait_for(lambda: children(self.process.pid), 10, "gunicorn's worker")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}; its log ends:\n{self.log_tail()}") from None

    def log_tail(self, size: int = 2000) -> str:
        """The end of the console's output, for error messages (the work folder is removed afterwards)."""
        with open(self.log.name, "rb") as log:
            return log.read()[-size:].decode(errors="replace")

    @property
    def pids(self) -> list[int]:
        """The server, its workers and anything they started (a render process), as of now."""
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            frontier += children(pid)
        return found

    def peak_rss_mib(self) -> float:
        return sum(memory_kib(pid, "VmHWM") for pid in self.pids) / 1024

    def stop(self) -> None:
        if self.log.closed:
            return
        started = [pid for pid in self.pids if pid != self.process.pid]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for pid in {*self.workers, *started}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


class Worker:
    """A helper process (poster or subscribers) spoken to over a pipe, stopped by PID."""

    def __init__(self, target, *args, **kwargs):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), kwargs=kwargs, daemon=True)
        self.process.start()

    def ask(self, *request, timeout: float = 600.0):
        self.connection.send(request)
        if not self.connection.poll(timeout):
            raise RuntimeError(f"no answer to {request[0]!r} within {timeout} s")
        return self.connection.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.ask("stop", timeout=20)
            except (OSError, EOFError, RuntimeError):
                pass
            self.process.join(timeout=5)
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.join(timeout=5)


# -- measuring --------------------------------------------------------------------------------------


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


def percentile(values: list[float], share: float) -> float | None:
    """The `share` quantile (nearest rank) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _phase(name, rate, console, poster, subscribers, options, budget=None) -> dict:
    before_counts = subscribers.ask("counts")
    before_cpu = cpu_seconds(console.pids)
    load = [poster.process.pid, subscribers.process.pid]
    before_load = cpu_seconds(load)
    duration = options.max_duration if rate is None else options.duration
    result = poster.ask("webhooks", rate, duration, options.threads, budget)
    elapsed = result["elapsed"]
    cpu = cpu_seconds(console.pids) - before_cpu
    load_cpu = cpu_seconds(load) - before_load
    _settle(subscribers)
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
        "latency_p50_ms": _ms(percentile(latencies, 0.50)), "latency_p95_ms": _ms(percentile(latencies, 0.95)),
        "latency_p99_ms": _ms(percentile(latencies, 0.99)),
        "frames_per_s_per_subscriber": round(messages / elapsed / k, 2),
        "bytes_per_s_per_subscriber": round(sent_bytes / elapsed / k, 1),
        "wire_bytes_per_s_per_subscriber": round(wire_bytes / elapsed / k, 1),
        "console_cpu_percent": round(100 * cpu / elapsed, 1),
        "load_cpu_percent": round(100 * load_cpu / elapsed, 1),
        "console_peak_rss_mib": round(console.peak_rss_mib(), 1),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _settle(subscribers: Worker, quiet: float = 1.0, timeout: float = 60.0) -> None:
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
        idle_cpu = cpu_seconds(console.pids)
        baseline = poster.ask("baseline", options.baseline_duration, options.threads)
        baseline_rate = baseline["ok"] / baseline["elapsed"]
        baseline_cpu = 100 * (cpu_seconds(console.pids) - idle_cpu) / baseline["elapsed"]
        phases = [_phase(f"fixed {rate}/s", rate, console, poster, subscribers, options) for rate in options.rates]
        budget = int(max(options.rates + [1000]) * 4 * options.max_duration)
        phases.append(_phase("flat out", None, console, poster, subscribers, options, budget))
        _settle(subscribers)
        views = check_views(console, subscribers.ask("views"))
        peak = phases[-1]["accepted_per_s"]
        return {
            "subscribers": len(watches),
            "subscribers_compressed": subscribers.ask("compressed"),
            "watches": {w: watches.count(w) for w in ("dashboard",)} | {
                "conference pages": sum(w.startswith("conference:") for w in watches),
                "queue pages": sum(w.startswith("queue:") for w in watches)},
            "baseline": {"endpoint": "/healthz", "requests": baseline["ok"], "elapsed_s": round(baseline["elapsed"], 3),
                         "per_s": round(baseline_rate, 1), "console_cpu_percent": round(baseline_cpu, 1)},
            "phases": phases,
            "max_accepted_per_s": peak,
            "ingest_to_baseline_ratio": round(peak / baseline_rate, 3) if baseline_rate else None,
            "console_peak_rss_mib": round(console.peak_rss_mib(), 1),
            "final_view_check": views,
        }
    finally:
        for worker in (subscribers, poster):
            if worker is not None:
                worker.stop()
        if console is not None:
            console.stop()


def machine() -> dict:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    total = memory_kib_total()
    return {"cpu": model, "cpus": os.cpu_count(), "memory_mib": total, "python": sys.version.split()[0],
            "platform": sys.platform}


def memory_kib_total() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            return int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        return None


def run(options: BenchOptions) -> dict:
    """The whole benchmark as one JSON-ready dict."""
    from console.bench.pages import measure_pages

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


def table(figures: dict) -> str:
    """The figures as a plain-text table."""
    box = figures["machine"]
    lines = [f"machine: {box['cpu']} x{box['cpus']}, {box['memory_mib']} MiB, Python {box['python']}"]
    ingest = figures.get("ingest")
    if ingest:
        base = ingest["baseline"]
        lines.append(f"subscribers: {ingest['subscribers']} ({ingest['watches']}, permessage-deflate on "
                     f"{ingest.get('subscribers_compressed', 0)}); render process: "
                     f"{'yes' if figures['options'].get('render_process', True) else 'no'}")
        lines.append(f"baseline GET /healthz: {base['per_s']}/s (console CPU {base['console_cpu_percent']}%)")
        header = (f"{'phase':<14}{'accepted/s':>11}{'failed':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                  f"{'frames/s/sub':>14}{'bytes/s/sub':>13}{'wire B/s/sub':>14}{'CPU %':>8}{'RSS MiB':>9}"
                  f"{'load CPU %':>12}")
        lines += [header, "-" * len(header)]
        for p in ingest["phases"]:
            lines.append(f"{p['phase']:<14}{p['accepted_per_s']:>11}{p['failed']:>8}{_cell(p['latency_p50_ms']):>9}"
                         f"{_cell(p['latency_p95_ms']):>9}{_cell(p['latency_p99_ms']):>9}"
                         f"{p['frames_per_s_per_subscriber']:>14}{p['bytes_per_s_per_subscriber']:>13}"
                         f"{p['wire_bytes_per_s_per_subscriber']:>14}{p['console_cpu_percent']:>8}{p['console_peak_rss_mib']:>9}{p['load_cpu_percent']:>12}")
        lines.append("bytes: the HTML of the messages; wire B: what crossed the socket (compressed when negotiated)")
        lines.append("CPU %: the console's processes; load CPU %: the poster and the subscribers, on the same machine")
        lines.append(f"ingest / baseline: {ingest['ingest_to_baseline_ratio']}")
        check = ingest["final_view_check"]
        lines.append(f"final view check: {'passed' if check['passed'] else 'FAILED'} "
                     f"({check['subscribers_checked']} subscribers, {check['items_checked']} items)")
    pages = figures.get("pages")
    if pages:
        lines.append(f"large state: {pages['state']}")
        for name, page in pages["pages"].items():
            lines.append(f"  {name:<11} median {page['median_ms']:>8} ms   max {page['max_ms']:>8} ms   "
                         f"{page['html_bytes']:>9} bytes")
    return "\n".join(lines)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def options_from(args) -> BenchOptions:
    """BenchOptions from the command line: --quick first, then whatever was given explicitly."""
    options = BenchOptions(ingest=not args.pages_only, pages=args.pages or args.pages_only)
    if args.quick:
        quick(options)
    for name in ("subscribers", "conferences", "queues", "threads", "baseline_duration"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    if args.duration is not None:
        options.duration = options.max_duration = args.duration
    options.render_process = args.render_process
    options.deflate = args.deflate
    if args.rates:
        options.rates = [int(rate) for rate in args.rates.split(",") if rate.strip()]
    if args.page_sizes:
        options.page_sizes = tuple(int(n) for n in args.page_sizes.split(","))
    return options


def main(args) -> int:
    """The `bench` subcommand: run, print the table, write the JSON; exit 1 when the view check failed."""
    figures = run(options_from(args))
    print(table(figures), flush=True)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(figures, out, indent=2)
    failed = figures.get("ingest", {}).get("final_view_check", {}).get("passed") is False
    return 1 if failed else 0


def add_arguments(parser) -> None:
    """The `bench` subcommand's options (unset ones take the full run's, or --quick's, values)."""
    parser.add_argument("--quick", action="store_true", help="a small run that takes well under a minute")
    parser.add_argument("--subscribers", type=int, help="WebSocket subscribers (default 100)")
    parser.add_argument("--rates", help="fixed webhook rates per second, comma separated (default 200,500,1000)")
    parser.add_argument("--duration", type=float, help="seconds per phase (default 10)")
    parser.add_argument("--baseline-duration", type=float, help="seconds of /healthz baseline (default 5)")
    parser.add_argument("--conferences", type=int, help="conferences live at once (default 40)")
    parser.add_argument("--queues", type=int, help="queues (default 10)")
    parser.add_argument("--threads", type=int, help="poster connections (default 16)")
    parser.add_argument("--render-process", action=argparse.BooleanOptionalAction, default=True,
                        help="run the console with CONSOLE_RENDER_PROCESS (default: yes)")
    parser.add_argument("--deflate", action=argparse.BooleanOptionalAction, default=True,
                        help="subscribers offer permessage-deflate, as browsers do (default: yes)")
    parser.add_argument("--pages", action="store_true", help="also time pages at a large state")
    parser.add_argument("--pages-only", action="store_true", help="only time pages at a large state")
    parser.add_argument("--page-sizes", help="conferences,participants,queues,queued calls (default 500,8,50,100)")
    parser.add_argument("--out", help="write the figures as JSON here")
