"""`bench --instances 2` with tiny numbers: both runs reported, nothing lost, latency timed across instances.

The run starts a real redis-server and real consoles; timings are reported, never asserted. What is
asserted is the figures' shape, that every instance logged every accepted webhook, and that every
latency sample was read on an instance other than the one the webhook was posted to.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from console.bench.instances import post_round_robin
from console.bench.wire import encode_request
from console.cli import main

PHASE_FIGURES = {
    "phase", "target_rate", "sent", "accepted", "failed", "elapsed_s", "accepted_per_s", "ack_p50_ms", "ack_p99_ms",
    "latency_samples", "latency_p50_ms", "latency_p99_ms", "latency_pairs", "console_cpu_percent",
    "redis_cpu_percent", "lag_max", "lag_at_end", "position_at_end", "caught_up_s",
}


@pytest.mark.slow
def test_instances_bench_reports_both_runs_loses_nothing_and_times_across_instances(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--instances", "2", "--subscribers", "10", "--rates", "40", "--duration", "1.5",
                 "--conferences", "4", "--queues", "2", "--threads", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert code == 0, printed
    assert set(figures) == {"machine", "options", "instances"}  # --instances replaces the default phases
    result = figures["instances"]
    assert result["instances"] == 2 and result["fixed_rate"] == 40 and result["flat_out_to_embedded"] > 0
    embedded, distributed = result["embedded"], result["distributed"]
    assert (embedded["mode"], embedded["instances"]) == ("embedded", 1)
    assert (distributed["mode"], distributed["instances"]) == ("distributed", 2)
    for run in (embedded, distributed):
        assert [phase["phase"] for phase in run["phases"]] == ["fixed 40/s", "flat out"]
        assert run["subscribers"] == 10
        for phase in run["phases"]:
            assert PHASE_FIGURES <= phase.keys()
            assert phase["accepted"] > 0 and phase["failed"] == 0 and phase["accepted"] == phase["sent"]
            assert len(phase["console_cpu_percent"]) == run["instances"]
        flat = run["phases"][-1]
        assert flat["latency_samples"] > 0 and flat["latency_p99_ms"] >= flat["latency_p50_ms"]
        _check_log(run)
        assert run["view_check"]["passed"], run["view_check"]["mismatches"]
    _check_latency_crosses_instances(distributed)
    _check_lag(distributed)
    assert all(phase["lag_max"] is None and phase["redis_cpu_percent"] is None for phase in embedded["phases"])
    assert all(set(phase["latency_pairs"]) == {"0->0"} for phase in embedded["phases"])
    assert "embedded x1" in printed and "distributed x2" in printed and "lost 0" in printed


def _check_log(run):
    """Every instance's own event log holds every accepted webhook (the opening's and the phases')."""
    log = run["log"]
    assert log["accepted_checked"] > sum(phase["accepted"] for phase in run["phases"])  # the opening too
    assert [entry["instance"] for entry in log["per_instance"]] == list(range(run["instances"]))
    assert all(entry["missing"] == 0 for entry in log["per_instance"])
    assert log["lost"] == 0 and log["all_logged"]


def _check_latency_crosses_instances(distributed):
    """Each sample is counted under (posted to -> read on); every pair names two different instances."""
    for phase in distributed["phases"]:
        pairs = {tuple(int(side) for side in pair.split("->")): n for pair, n in phase["latency_pairs"].items()}
        assert set(pairs) == {(0, 1), (1, 0)}
        assert all(posted != read for posted, read in pairs)
        assert sum(pairs.values()) == phase["latency_samples"]
    flat = distributed["phases"][-1]["latency_pairs"]
    assert all(n > 0 for n in flat.values())  # both directions measured flat out


def _check_lag(distributed):
    """Lag per instance from /readyz: the most seen while posting, and at the end, with the position."""
    for phase in distributed["phases"]:
        assert len(phase["lag_max"]) == 2 and len(phase["lag_at_end"]) == 2
        assert all(isinstance(lag, int) and lag >= 0 for lag in phase["lag_at_end"])
        assert all(isinstance(position, str) and "-" in position for position in phase["position_at_end"])
        assert phase["caught_up_s"] is not None and phase["redis_cpu_percent"] is not None


class _Recorder(BaseHTTPRequestHandler):
    """Answers 204 on a keep-alive connection and notes which request reached this server."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append(int(body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_poster_sends_request_k_to_instance_k_mod_n_in_order():
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(3)]
    threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}) for server in servers]
    for server, thread in zip(servers, threads):
        server.seen = []
        thread.start()
    try:
        ports = [server.server_address[1] for server in servers]
        wire = [encode_request("POST", "/webhooks/telnyx", str(k).encode(), {}, f"127.0.0.1:{ports[k % 3]}")
                for k in range(30)]
        result = post_round_robin(ports, wire, rate=None, connections=1, duration=20)
    finally:
        for server, thread in zip(servers, threads):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    assert result["ok"] == 30 and result["failed"] == 0
    assert result["sent_to"] == {k: k % 3 for k in range(30)}
    assert [server.seen for server in servers] == [list(range(i, 30, 3)) for i in range(3)]


def test_instances_takes_two_or_more():
    with pytest.raises(SystemExit, match="--instances"):
        main(["bench", "--instances", "1"])
