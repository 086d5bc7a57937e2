"""`supervisor-console bench --quick` with tiny numbers: every figure is reported and nothing is lost.

The end-to-end run includes the attack phase and the large-state phase in small forms; timings are
reported, never asserted.
"""

from __future__ import annotations

import json

import pytest

from console.bench.live import Subscriber, _Parsed, items, visible_text
from console.bench.traffic import Traffic, seed_store
from console.cli import main
from console.live.pieces import Window, window_fragment
from console.state.store import Store

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
                 "--pages", "--page-sizes", "6,3,2,5", "--attack-sizes", "20,30,10", "--large-sizes", "300,4,3",
                 "--out", str(out)])
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
    _check_attack(ingest["attack"])
    _check_large_state(figures["large_state"])
    pages = figures["pages"]
    assert pages["state"]["conferences"] == 6
    assert set(pages["pages"]) == {"dashboard", "conference", "queue"}
    assert all(page["html_bytes"] > 0 and page["median_ms"] > 0 for page in pages["pages"].values())
    assert "ingest / baseline" in printed and "final view check: passed" in printed
    assert "attack: 20 slow-header connections, 30 live sockets (10 never reading)" in printed
    assert "large state: 300 live conferences of 4, 3 queues" in printed and "passed, lost 0" in printed


def _check_attack(attack):
    """Every hostile client was opened and every webhook posted meanwhile was answered and logged."""
    assert attack["opened"] == {"slow_opened": 20, "readers_opened": 20, "never_reading_opened": 10}
    assert attack["held_at_end"]["slow_open"] == 20  # a cut-off slow connection is replaced at once
    hooks = attack["webhooks"]
    assert hooks["sent"] > 0 and hooks["all_2xx"] and hooks["accepted"] == hooks["sent"]
    assert hooks["ack_p50_ms"] is not None and hooks["ack_p99_ms"] >= hooks["ack_p50_ms"]
    assert attack["dashboard_under_attack"]["samples"] > 0 and attack["dashboard_under_attack"]["failed"] == 0
    assert attack["dashboard_under_attack"]["median_ms"] is not None
    assert attack["log"] == {"accepted_checked": hooks["accepted"], "missing": 0, "all_logged": True}
    assert attack["view_check_after"]["passed"], attack["view_check_after"]["mismatches"]


def _check_large_state(large):
    """The large state was built, subscribed to and driven flat out, and no update was lost."""
    assert large["state"]["conferences"] == 300 and large["state"]["participants_each"] == 4
    assert large["state"]["events"] > 300 * 4
    assert large["subscribers"] == 5 and large["baseline"]["per_s"] > 0
    flat = large["flat_out"]
    assert flat["accepted"] > 0 and flat["failed"] == 0
    assert PHASE_FIGURES <= flat.keys() and flat["latency_p99_ms"] is not None
    assert large["ingest_to_baseline_ratio"] > 0
    check = large["final_view_check"]
    assert check["passed"], check["mismatches"]
    assert check["subscribers_checked"] == 5 and check["items_checked"] > 0


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


def test_large_opening_fills_each_conference_and_seeds_a_database(tmp_path):
    traffic = Traffic(conferences=6, queues=2, seed=5)
    pairs = traffic.opening(participants=4)
    assert all(len(conference.participants) == 4 for conference in traffic.conferences)
    assert seed_store(str(tmp_path / "large.db"), pairs) == len(pairs)
    store = Store(str(tmp_path / "large.db"))
    try:
        assert store.event_count() == len(pairs)
        assert len(store.live_conferences()) == 6
        assert all(len(store.participants(c.id)) == 4 for c in traffic.conferences)
    finally:
        store.close()


@pytest.mark.parametrize(("flag", "value"), [("--attack-sizes", "20,30"), ("--attack-sizes", "20,5,10"),
                                             ("--large-sizes", "0,4,2"), ("--page-sizes", "a,b,c,d")])
def test_size_flags_refuse_what_cannot_be_run(flag, value):
    with pytest.raises(SystemExit, match=flag):
        main(["bench", flag, value])


def test_a_subscribers_view_follows_a_lists_window_as_a_browser_does():
    """A "newest N" list deletes with `delete:#id` and inserts next to a neighbour; the model keeps up."""
    window = Window("conference__", "conference-rows", "tbody", ("conference__b",),
                    (("conference__b", '<tr id="conference__b"><td>B</td></tr>'),))
    subscriber = Subscriber(port=0, watch="dashboard")
    subscriber.take("", _Parsed('<tr id="conference__a"><td>A</td></tr>'), 0.0)
    shown = {"conference__a"}
    message = window_fragment(window, shown)
    subscriber.take(message, _Parsed(message), 1.0)
    assert set(subscriber.view) == {"conference__b"} == shown
    own = '<div id="conference__b" hx-swap-oob="delete" data-gone="1"></div>'
    subscriber.take(own, _Parsed(own), 2.0)
    assert subscriber.view == {}
