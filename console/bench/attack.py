"""The attack phase: hostile clients held open while webhooks keep arriving at a steady rate.

One process holds every hostile client on one selector loop: connections that send a request head
a byte a second and never finish it (when the console cuts one off, another takes its place), live
sockets that read their frames, and live sockets with a tiny receive buffer that never read at all,
as a frozen browser tab would. Each live socket signs in as a user of its own, so what is tested is
the console's hold on many sockets, not the per-user cap (which would refuse all but a few).
Meanwhile the poster sends webhooks at a fixed rate and the parent times the dashboard. Afterwards
every webhook answered 2xx is looked up in the console's event log.
"""

from __future__ import annotations

import selectors
import socket
import statistics
import time
import urllib.request

from console.bench.live import READER_HEADERS, Subscriber, reader_headers
from console.bench.processes import ConsoleProcess, Worker
from console.bench.wire import Closed, WebSocketReader
from console.state.store import Store

TRICKLE_SECONDS = 1.0
DASHBOARD_SAMPLES = 6
NEVER_READING_BUFFER = 2048  # bytes of receive buffer for a socket that never reads
_TCP_ESTABLISHED = 1


def _slow_connection(port: int, number: int) -> socket.socket:
    """A connection that has sent the start of a request head and will never finish it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    sock.send(f"GET /?slow={number} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Trickle: ".encode())
    return sock


def _established(sock: socket.socket) -> bool:
    """Whether the console still holds this connection open (TCP_INFO's state; unknown counts as open)."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return True
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, option, 8)[0] == _TCP_ESTABLISHED
    except OSError:
        return False


class _Attackers:
    """The hostile clients and what happened to them."""

    def __init__(self, port: int, slow: int, watches: list[str], never_reading: int, deflate: bool):
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.figures = {"slow_opened": 0, "slow_cut_off": 0, "slow_answered_408": 0, "slow_connect_errors": 0,
                        "trickled_bytes": 0, "readers_opened": 0, "readers_refused": 0, "reader_messages": 0,
                        "readers_dropped": 0, "never_reading_opened": 0, "never_reading_refused": 0,
                        "refusals": []}
        self.slow: set[socket.socket] = set()
        for _ in range(slow):
            self._open_slow()
        self.readers: list[Subscriber] = []
        for n, watch in enumerate(watches):
            reader = Subscriber(port, watch, deflate, f"bench-attacker-{n:03d}")
            if reader.connect() is None:
                self._refused("readers_refused", reader.error)
            else:
                self.readers.append(reader)
                self.selector.register(reader.socket, selectors.EVENT_READ, reader)
        self.figures["readers_opened"] = len(self.readers)
        self.never_reading: list[WebSocketReader] = []
        for n in range(never_reading):
            try:
                self.never_reading.append(WebSocketReader(
                    port, "/live?watch=dashboard", reader_headers(f"bench-stuck-{n:03d}"), deflate=deflate,
                    receive_buffer=NEVER_READING_BUFFER))
            except (OSError, Closed) as exc:
                self._refused("never_reading_refused", str(exc))
        self.figures["never_reading_opened"] = len(self.never_reading)

    def _refused(self, counter: str, why: str | None) -> None:
        self.figures[counter] += 1
        if len(self.figures["refusals"]) < 5:
            self.figures["refusals"].append(why)

    def _open_slow(self) -> None:
        try:
            sock = _slow_connection(self.port, self.figures["slow_opened"])
        except OSError:
            self.figures["slow_connect_errors"] += 1
            return
        self.figures["slow_opened"] += 1
        self.slow.add(sock)
        self.selector.register(sock, selectors.EVENT_READ, "slow")

    def _cut_off(self, sock: socket.socket) -> None:
        """The console answered or closed a slow connection: count it and open another in its place."""
        try:
            answer = sock.recv(4096)
        except OSError:
            answer = b""
        self.figures["slow_cut_off"] += 1
        self.figures["slow_answered_408"] += answer.startswith(b"HTTP/1.1 408")
        self.selector.unregister(sock)
        self.slow.discard(sock)
        sock.close()
        self._open_slow()

    def trickle(self) -> None:
        """One more byte of every slow head (never the blank line that would end it)."""
        for sock in list(self.slow):
            try:
                self.figures["trickled_bytes"] += sock.send(b"a")
            except BlockingIOError:
                pass
            except OSError:
                self._cut_off(sock)

    def on_readable(self, key) -> None:
        if key.data == "slow":
            self._cut_off(key.fileobj)
            return
        reader: Subscriber = key.data
        try:
            self.figures["reader_messages"] += len(reader.socket.read())
        except Closed:
            self.figures["readers_dropped"] += 1
            self.selector.unregister(reader.socket)
            reader.socket.close()
            self.readers.remove(reader)

    def status(self) -> dict:
        return self.figures | {"slow_open": len(self.slow), "readers_open": len(self.readers),
                               "never_reading_open": sum(_established(r.sock) for r in self.never_reading)}

    def close(self) -> None:
        for sock in self.slow:
            sock.close()
        for reader in self.readers:
            reader.socket.close()
        for deaf in self.never_reading:
            deaf.sock.close()
        self.selector.close()


def run_attackers(connection, port: int, slow: int, watches: list[str], never_reading: int,
                  deflate: bool = True) -> None:
    """Attacker process: open every hostile client, hold them on one loop, answer the parent over `connection`."""
    attackers = _Attackers(port, slow, watches, never_reading, deflate)
    attackers.selector.register(connection, selectors.EVENT_READ, None)
    next_trickle = time.monotonic() + TRICKLE_SECONDS
    while True:
        for key, _ in attackers.selector.select(max(0.0, next_trickle - time.monotonic())):
            if key.data is not None:
                attackers.on_readable(key)
                continue
            command = connection.recv()[0]
            connection.send(attackers.status())
            if command == "stop":
                attackers.close()
                return
        if time.monotonic() >= next_trickle:
            attackers.trickle()
            next_trickle += TRICKLE_SECONDS


def dashboard_seconds(console: ConsoleProcess) -> float | None:
    """Seconds to load the dashboard as a signed-in reader, None when it was not answered 200."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(console.url + "/", headers=READER_HEADERS),
                                    timeout=60) as response:
            response.read()
            return time.perf_counter() - started if response.status == 200 else None
    except OSError:
        return None


def _times(samples: list[float | None]) -> dict:
    answered = [s for s in samples if s is not None]
    return {"samples": len(samples), "failed": len(samples) - len(answered),
            "median_ms": round(1000 * statistics.median(answered), 1) if answered else None,
            "max_ms": round(1000 * max(answered), 1) if answered else None}


def missing_from_log(database: str, event_ids: list[str]) -> int:
    """How many of these webhooks' events the console's event log does not hold."""
    store = Store(database)
    try:
        return sum(not store.has_event(event_id) for event_id in event_ids)
    finally:
        store.close()


def run_attack(options, console: ConsoleProcess, poster: Worker, reader_watches: list[str]) -> dict:
    """Hold the hostile clients, post webhooks at the attack rate, time the dashboard, check the log."""
    slow, sockets, never_reading = options.attack_sizes
    quiet = [dashboard_seconds(console) for _ in range(3)]
    attackers = Worker(run_attackers, console.port, slow, reader_watches, never_reading, deflate=options.deflate)
    try:
        opened = attackers.ask("ready", timeout=300)
        poster.send("webhooks", options.attack_rate, options.attack_duration, options.threads, None, True)
        began, loads = time.monotonic(), []
        while not poster.connection.poll(0.05):
            if len(loads) < DASHBOARD_SAMPLES and \
                    time.monotonic() - began >= (len(loads) + 0.5) * options.attack_duration / DASHBOARD_SAMPLES:
                loads.append(dashboard_seconds(console))
        webhooks = poster.receive("webhooks")
        held = attackers.ask("status")
    finally:
        attackers.stop()
    accepted_ids = webhooks.pop("accepted_ids")
    missing = missing_from_log(console.database, accepted_ids)
    return {
        "slow_header_connections": slow, "sockets": sockets, "never_reading": never_reading,
        "rate": options.attack_rate, "duration_s": options.attack_duration,
        "opened": {key: opened[key] for key in ("slow_opened", "readers_opened", "never_reading_opened")},
        "held_at_end": {key: held[key] for key in ("slow_open", "readers_open", "never_reading_open")},
        "slow_cut_off": held["slow_cut_off"], "slow_answered_408": held["slow_answered_408"],
        "readers_dropped": held["readers_dropped"], "reader_messages": held["reader_messages"],
        "refusals": held["refusals"],
        "webhooks": {"sent": webhooks["sent"], "accepted": webhooks["ok"], "failed": webhooks["failed"],
                     "all_2xx": webhooks["failed"] == 0 and webhooks["ok"] == webhooks["sent"],
                     "accepted_per_s": round(webhooks["ok"] / webhooks["elapsed"], 1),
                     "ack_p50_ms": webhooks["ack_p50_ms"], "ack_p99_ms": webhooks["ack_p99_ms"],
                     "ack_max_ms": webhooks["ack_max_ms"]},
        "dashboard_quiet": _times(quiet), "dashboard_under_attack": _times(loads),
        "log": {"accepted_checked": len(accepted_ids), "missing": missing, "all_logged": missing == 0},
    }
