"""`supervisor-console bench --quick` with tiny numbers: every figure is reported and the live view is right."""

from __future__ import annotations

import json

import pytest

from console.bench.live import items, visible_text
from console.bench.traffic import Traffic
from console.cli import main

PHASE_FIGURES = {
    "accepted_per_s", "failed", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_samples",
    "frames_per_s_per_subscriber", "bytes_per_s_per_subscriber", "console_cpu_percent", "console_peak_rss_mib",
    "load_cpu_percent", "wire_bytes_per_s_per_subscriber",
}


@pytest.mark.slow
def test_quick_bench_reports_every_figure_and_a_matching_final_view(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--subscribers", "5", "--rates", "40", "--duration", "1.5",
                 "--baseline-duration", "1", "--conferences", "4", "--queues", "2", "--threads", "2",
                 "--pages", "--page-sizes", "6,3,2,5", "--out", str(out)])
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert code == 0, printed
    ingest = figures["ingest"]
    assert ingest["subscribers"] == 5
    assert ingest["subscribers_compressed"] == 5  # as browsers do, so the console compresses its frames
    assert ingest["baseline"]["per_s"] > 0
    assert [phase["phase"] for phase in ingest["phases"]] == ["fixed 40/s", "flat out"]
    for phase in ingest["phases"]:
        assert PHASE_FIGURES <= phase.keys()
        assert phase["accepted"] > 0 and phase["failed"] == 0
        assert phase["latency_samples"] > 0 and phase["latency_p99_ms"] is not None
        assert 0 < phase["wire_bytes_per_s_per_subscriber"] < phase["bytes_per_s_per_subscriber"]  # compressed
    assert ingest["ingest_to_baseline_ratio"] > 0
    assert ingest["console_peak_rss_mib"] > 0
    check = ingest["final_view_check"]
    assert check["passed"], check["mismatches"]
    assert check["subscribers_checked"] == 5 and check["items_checked"] > 0
    pages = figures["pages"]
    assert pages["state"]["conferences"] == 6
    assert set(pages["pages"]) == {"dashboard", "conference", "queue"}
    assert all(page["html_bytes"] > 0 and page["median_ms"] > 0 for page in pages["pages"].values())
    assert "ingest / baseline" in printed and "final view check: passed" in printed


def test_traffic_uses_all_twenty_event_types_and_stays_bounded():
    traffic = Traffic(conferences=5, queues=3, seed=3, max_participants=4, max_waiting=3)
    pairs = traffic.opening() + traffic.events(4000)
    types = {(body.get("data") or body)["event_type"] for body, _ in pairs}
    assert len(types) == 20
    assert all(len(c.participants) <= 4 for c in traffic.conferences if c)
    assert all(len(waiting) <= 3 for waiting in traffic.waiting.values())
    assert len({(body.get("data") or body)["id"] for body, _ in pairs}) == len(pairs)


def test_items_read_rows_and_cards_whatever_the_attribute_order():
    html = ('<tbody><tr hx-swap-oob="true" id="conference__a"><td>Live <span class="timer timer-age" '
            'data-since="x">0:07</span></td></tr><article id="participant__a__b" class="card">Ada</article></tbody>')
    found = items(html)
    assert found == {"conference__a": "Live", "participant__a__b": "Ada"}
    assert visible_text("<b>Ada</b>\n  <i>Lovelace</i>") == "Ada Lovelace"
