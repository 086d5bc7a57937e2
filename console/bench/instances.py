"""`supervisor-console bench --instances N`: the distributed mode against the embedded single instance.

Issue 17 asks what one more instance buys. The same load runs twice: through one embedded console
(CONSOLE_REDIS_URL empty: the baseline), then through N consoles sharing a redis-server started
for the run, each with its own database. One poster spreads the signed webhooks round robin
(webhook k to instance k % N, in order, as a round-robin balancer would), at a fixed rate and then
flat out. The subscribers of instance (i + 1) % N time only the webhooks posted to instance i, so
every webhook-to-frame sample crossed the stream from one instance to another (in the embedded run
there is only the one). Meanwhile each instance's /readyz "cluster" block is polled for its lag
behind the stream. Afterwards every instance's own event log must hold every accepted webhook,
since every instance applies the whole stream. Figures, never assertions: the table and the JSON.
"""

from __future__ import annotations

import collections
import json
import os
import selectors
import socket
import time
import urllib.error
import urllib.request

from console.bench.attack import missing_from_log
from console.bench.live import run_subscribers
from console.bench.options import BenchOptions
from console.bench.phases import check_views, settle, watches_for
from console.bench.processes import (
    ConsoleProcess,
    RedisProcess,
    Worker,
    cpu_seconds,
    find_redis_server,
    wait_for,
)
from console.bench.stats import ms, percentile
from console.bench.traffic import Traffic, event_id, sign_all
from console.bench.wire import _Responses, encode_request
from console.telnyx import signing

LAG_POLL_SECONDS = 0.5
CATCH_UP_SECONDS = 120.0


# -- the round-robin poster ------------------------------------------------------------------------


class _Link:
    """One keep-alive connection to one instance, carrying one request at a time."""

    __slots__ = ("instance", "pending", "responses", "sock")

    def __init__(self, port: int, instance: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.instance = instance
        self.responses = _Responses()
        self.pending: int | None = None


class _Round:
    """One posting round: the connections to every instance, what is owed, and the tallies."""

    def __init__(self, ports: list[int], connections: int):
        self.ports = ports
        self.selector = selectors.DefaultSelector()
        self.idle: list[collections.deque[_Link]] = [collections.deque() for _ in ports]
        self.busy = self.ok = self.failed = 0
        self.sent_at: dict[int, float] = {}
        self.sent_to: dict[int, int] = {}  # the instance each request went to, as the connection says
        self.accepted: list[int] = []
        self.acks: list[float] = []
        for instance in range(len(ports)):
            for _ in range(connections):
                self.connect(instance)

    def connect(self, instance: int) -> None:
        link = _Link(self.ports[instance], instance)
        self.selector.register(link.sock, selectors.EVENT_READ, link)
        self.idle[instance].append(link)

    def drop(self, link: _Link) -> None:
        self.selector.unregister(link.sock)
        link.sock.close()

    def send(self, link: _Link, index: int, request: bytes) -> None:
        self.sent_at[index] = time.time()
        self.sent_to[index] = link.instance
        try:
            link.sock.sendall(request)
            link.pending = index
            self.busy += 1
        except OSError:
            self.failed += 1
            self.drop(link)
            self.connect(link.instance)

    def read(self, link: _Link) -> None:
        """Take an answer (2xx is accepted); a closed or non-keep-alive connection is replaced."""
        try:
            data = link.sock.recv(65536)
        except OSError:
            data = b""
        answers = link.responses.feed(data) if data else []
        if answers and link.pending is not None:
            status, keep = answers[0]
            self.acks.append(time.time() - self.sent_at[link.pending])
            if 200 <= status < 300:
                self.ok += 1
                self.accepted.append(link.pending)
            else:
                self.failed += 1
            link.pending = None
            self.busy -= 1
            if keep:
                self.idle[link.instance].append(link)
                return
        if not data or answers:
            if link.pending is not None:
                self.failed += 1
                self.busy -= 1
            self.drop(link)
            self.connect(link.instance)

    def close(self) -> None:
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def post_round_robin(ports: list[int], wire: list[bytes], *, rate: float | None, connections: int,
                     duration: float, drain: float = 30.0) -> dict:
    """Send request k to instance k % N, in order, at `rate` per second (None: flat out) for `duration`.

    A request waits for a free connection to its own instance, so the order holds whatever the
    instances' speeds: the slowest sets the pace, as behind a round-robin balancer.
    """
    posting, count, cursor = _Round(ports, connections), len(ports), 0
    begin = time.perf_counter()
    deadline = begin + duration
    try:
        while True:
            now = time.perf_counter()
            sending = cursor < len(wire) and now < deadline
            while sending and posting.idle[cursor % count] and (rate is None or begin + cursor / rate <= now):
                posting.send(posting.idle[cursor % count].popleft(), cursor, wire[cursor])
                cursor += 1
                sending = cursor < len(wire)
            if not sending and not posting.busy:
                break
            if not sending and now > deadline + drain:
                posting.failed += posting.busy
                break
            wait = 0.05
            if sending and rate is not None and posting.idle[cursor % count]:
                wait = max(0.0, begin + cursor / rate - now)
            for key, _ in posting.selector.select(wait):
                posting.read(key.data)
        elapsed = time.perf_counter() - begin
    finally:
        posting.close()
    return {"ok": posting.ok, "failed": posting.failed, "elapsed": elapsed, "sent_at": posting.sent_at,
            "sent_to": posting.sent_to, "accepted": posting.accepted, "acks": posting.acks}


def run_round_robin_poster(connection, ports: list[int], seed_b64: str, *, conferences: int, queues: int,
                           seed: int, connections: int) -> None:
    """Poster process: the bench's call center, signed and spread over `ports`, as the parent asks."""
    traffic = Traffic(conferences=conferences, queues=queues, seed=seed)
    while True:
        request = connection.recv()
        if request[0] == "stop":
            connection.send("stopped")
            return
        if request[0] == "opening":
            pairs, rate, duration = traffic.opening(), None, 600.0
        else:
            _, rate, duration, budget = request
            pairs = traffic.events(budget if rate is None else int(rate * duration))
        signed = sign_all([body for body, _ in pairs], seed_b64)
        wire = [encode_request("POST", "/webhooks/telnyx", raw, headers, f"127.0.0.1:{ports[k % len(ports)]}")
                for k, (raw, headers) in enumerate(signed)]
        result = post_round_robin(ports, wire, rate=rate, connections=connections, duration=duration)
        sent_at, sent_to, acks = result["sent_at"], result["sent_to"], result["acks"]
        connection.send({
            "sent": len(sent_at), "ok": result["ok"], "failed": result["failed"], "elapsed": result["elapsed"],
            "ack_p50_ms": ms(percentile(acks, 0.50)), "ack_p99_ms": ms(percentile(acks, 0.99)),
            "accepted_ids": [event_id(pairs[index][0]) for index in result["accepted"]],
            # (sent at, element ids its frame carries, the instance it was posted to)
            "markers": [(sent_at[i], pairs[i][1], sent_to[i]) for i in sorted(sent_at) if pairs[i][1]],
        })


# -- one run: N consoles (or the embedded one), the poster, the subscribers --------------------------


def cluster_block(console: ConsoleProcess) -> dict | None:
    """The instance's /readyz "cluster" block (None in the embedded mode or when it does not answer)."""
    try:
        with urllib.request.urlopen(f"{console.url}/readyz", timeout=2) as response:
            report = json.load(response)
    except urllib.error.HTTPError as answer:  # 503: not following the stream right now; still a report
        report = json.loads(answer.read() or b"{}")
    except (OSError, ValueError):
        return None
    return report.get("cluster")


def _lags(consoles: list[ConsoleProcess]) -> list[dict | None]:
    """Each instance's lag (entries behind the stream's end) and follower position, as /readyz says now."""
    blocks = [cluster_block(console) for console in consoles]
    return [{"lag": block["lag"], "position": block["follower"]["position"]} if block else None for block in blocks]


def _caught_up(consoles: list[ConsoleProcess]) -> float | None:
    """Seconds until every instance has applied the whole stream (None: not within CATCH_UP_SECONDS)."""
    began = time.monotonic()
    try:
        wait_for(lambda: all(reading and reading["lag"] == 0 for reading in _lags(consoles)), CATCH_UP_SECONDS,
                 "every instance to catch up with the stream", 0.1)
    except RuntimeError:
        return None
    return round(time.monotonic() - began, 2)


class Run:
    """What one run holds: its consoles, the redis-server (distributed only), the poster and subscribers."""

    def __init__(self, redis: RedisProcess | None):
        self.redis = redis
        self.consoles: list[ConsoleProcess] = []
        self.poster: Worker | None = None
        self.subscribers: list[Worker] = []

    def cpu(self) -> tuple[list[float], float]:
        """CPU seconds used so far by each console (with its workers) and by the redis-server."""
        redis = cpu_seconds([self.redis.process.pid]) if self.redis else 0.0
        return [cpu_seconds(console.pids) for console in self.consoles], redis

    def stop(self) -> None:
        for worker in (*self.subscribers, self.poster):
            if worker is not None:
                worker.stop()
        for console in self.consoles:
            console.stop()
        if self.redis is not None:
            self.redis.stop()


def _latencies(subscribers: list[Worker], markers: list) -> tuple[list[float], dict[str, int]]:
    """Samples from the subscribers of instance (i + 1) % N for the webhooks posted to instance i, and how
    many each (posted to -> measured on) pair gave."""
    samples, pairs = [], {}
    for reader, worker in enumerate(subscribers):
        receiver = (reader - 1) % len(subscribers)
        mine = [(sent, ids) for sent, ids, posted_to in markers if posted_to == receiver]
        found = [value for per in worker.ask("latencies", mine) for value in per]
        samples += found
        pairs[f"{receiver}->{reader}"] = len(found)
    return samples, pairs


def _phase(name: str, rate: int | None, budget: int | None, run: Run, options: BenchOptions) -> tuple[dict, list]:
    """Post one phase, polling the lag meanwhile; its figures and the ids of the webhooks accepted."""
    consoles_before, redis_before = run.cpu()
    run.poster.send("webhooks", rate, options.duration if rate is not None else options.max_duration, budget)
    lag_max: list[int | None] = [None] * len(run.consoles)
    while not run.poster.connection.poll(LAG_POLL_SECONDS):
        if run.redis is not None:
            for index, reading in enumerate(_lags(run.consoles)):
                if reading and reading["lag"] >= 0:
                    lag_max[index] = max(lag_max[index] or 0, reading["lag"])
    result = run.poster.receive("webhooks")
    elapsed = result["elapsed"]
    consoles_after, redis_after = run.cpu()
    at_end = _lags(run.consoles) if run.redis is not None else None
    caught_up = _caught_up(run.consoles) if run.redis is not None else None
    for worker in run.subscribers:
        settle(worker)
    samples, pairs = _latencies(run.subscribers, result["markers"])
    return {
        "phase": name, "target_rate": rate, "sent": result["sent"], "accepted": result["ok"],
        "failed": result["failed"], "elapsed_s": round(elapsed, 3), "accepted_per_s": round(result["ok"] / elapsed, 1),
        "ack_p50_ms": result["ack_p50_ms"], "ack_p99_ms": result["ack_p99_ms"],
        "latency_samples": len(samples), "latency_p50_ms": ms(percentile(samples, 0.50)),
        "latency_p99_ms": ms(percentile(samples, 0.99)), "latency_pairs": pairs,
        "console_cpu_percent": [round(100 * (a - b) / elapsed, 1) for a, b in zip(consoles_after, consoles_before)],
        "redis_cpu_percent": round(100 * (redis_after - redis_before) / elapsed, 1) if run.redis else None,
        "lag_max": lag_max if run.redis else None,
        "lag_at_end": [r["lag"] if r else None for r in at_end] if at_end else None,
        "position_at_end": [r["position"] if r else None for r in at_end] if at_end else None,
        "caught_up_s": caught_up,
    }, result["accepted_ids"]


def _start(run: Run, options: BenchOptions, folder: str, count: int, per_instance: int) -> list:
    """Start the consoles and the poster, post the opening state; the ids of the webhooks accepted."""
    key = signing.generate_signing_key()
    env = {"CONSOLE_REDIS_URL": run.redis.url if run.redis else "", "CONSOLE_REDIS_PREFIX": "bench:"}
    for index in range(count):
        home = os.path.join(folder, f"instance-{index}")
        os.makedirs(home)
        run.consoles.append(ConsoleProcess(home, signing.public_key_b64(key), threads=per_instance + 32,
                                           render_process=options.render_process, env=env))
    if run.redis is not None:
        wait_for(lambda: all(r and r["lag"] == 0 for r in _lags(run.consoles)), 60, "every instance's follower", 0.1)
    run.poster = Worker(run_round_robin_poster, [c.port for c in run.consoles], signing.signing_key_seed(key),
                        conferences=options.conferences, queues=options.queues, seed=options.seed,
                        connections=max(1, options.threads // count))
    opening = run.poster.ask("opening")
    if opening["failed"]:
        raise RuntimeError(f"{opening['failed']} opening webhooks were refused; the first console's log ends:\n"
                           f"{run.consoles[0].log_tail()}")
    if run.redis is not None and _caught_up(run.consoles) is None:
        raise RuntimeError("the instances never caught up with the opening webhooks")
    return opening["accepted_ids"]


def _check_logs(run: Run, accepted_ids: list[str]) -> dict:
    """Every accepted webhook in every instance's own event log (each applies the whole stream)."""
    per_instance = [{"instance": index, "missing": missing_from_log(console.database, accepted_ids)}
                    for index, console in enumerate(run.consoles)]
    lost = max(entry["missing"] for entry in per_instance)
    return {"accepted_checked": len(accepted_ids), "per_instance": per_instance, "lost": lost, "all_logged": lost == 0}


def measure(options: BenchOptions, folder: str, count: int, distributed: bool) -> dict:
    """One run: `count` consoles (distributed on a fresh redis-server, or the embedded one), the
    same opening, a fixed-rate phase and a flat-out one, then the log and view checks."""
    os.makedirs(folder)
    per_instance = max(1, options.subscribers // count)
    run = Run(RedisProcess(folder) if distributed else None)
    try:
        accepted = list(_start(run, options, folder, count, per_instance))
        watches = watches_for(per_instance, options.conferences, options.queues)
        run.subscribers = [Worker(run_subscribers, c.port, watches, deflate=options.deflate) for c in run.consoles]
        for worker in run.subscribers:
            wait_for(lambda w=worker: w.ask("ready") >= len(watches), 120, "every subscriber's snapshot", 0.2)
        budget = int(max(options.rates + [1000]) * 4 * options.max_duration)
        phases = []
        for name, rate, most in ((f"fixed {options.rates[0]}/s", options.rates[0], None), ("flat out", None, budget)):
            phase, ids = _phase(name, rate, most, run, options)
            phases.append(phase)
            accepted += ids
        checks = [check_views(c, w.ask("views")) for c, w in zip(run.consoles, run.subscribers)]
        return {
            "mode": "distributed" if distributed else "embedded", "instances": count,
            "subscribers": per_instance * count, "poster_connections": max(1, options.threads // count) * count,
            "phases": phases, "log": _check_logs(run, accepted),
            "view_check": {"passed": all(c["passed"] for c in checks),
                           "items_checked": sum(c["items_checked"] for c in checks),
                           "mismatches": [m for c in checks for m in c["mismatches"]][:10]},
            "console_peak_rss_mib": [round(c.peak_rss_mib(), 1) for c in run.consoles],
        }
    finally:
        run.stop()


def run_instances(options: BenchOptions, workdir: str) -> dict:
    """The embedded single instance first (the baseline), then `options.instances` on one Redis."""
    find_redis_server()  # a missing binary is said at once, not after the baseline's minute
    embedded = measure(options, os.path.join(workdir, "embedded"), 1, distributed=False)
    distributed = measure(options, os.path.join(workdir, f"instances-{options.instances}"), options.instances,
                          distributed=True)
    base, flat = embedded["phases"][-1]["accepted_per_s"], distributed["phases"][-1]["accepted_per_s"]
    return {"instances": options.instances, "fixed_rate": options.rates[0], "duration_s": options.duration,
            "embedded": embedded, "distributed": distributed,
            "flat_out_to_embedded": round(flat / base, 3) if base else None}


def instances_lost(figures: dict) -> bool:
    """Whether a run lost an accepted webhook on some instance, or a live view differs from its page."""
    runs = [figures[name] for name in ("embedded", "distributed") if name in figures]
    return any(not run["log"]["all_logged"] or not run["view_check"]["passed"] for run in runs)
