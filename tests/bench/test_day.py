"""`supervisor-console bench --day`: a tiny day played through a real console, and the pieces it is made of.

The end-to-end run checks the table's shape and that what was sent arrived (every webhook accepted,
every call's events in the log), never how fast: timings are reported, not asserted.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from console import create_app
from console.bench.day import COLUMNS, day_watches
from console.bench.day_clock import ClockFile, DayDatetime, create
from console.bench.day_traffic import (
    ABANDONED_EVENTS,
    ANSWERED_EVENTS,
    QUEUES,
    _payload,
    body,
    moments,
    plan_day,
    segments,
)
from console.cli import main
from console.queues.alerts import get_watcher
from tests.waiting import wait_for

ANSWERED_TYPES = [
    "call.initiated", "call.answered", "call.enqueued", "call.initiated", "call.answered", "conference.created",
    "conference.participant.joined", "call.dequeued", "conference.participant.joined", "conference.participant.left",
    "call.hangup", "conference.participant.left", "call.hangup", "conference.ended",
]
ABANDONED_TYPES = ["call.initiated", "call.answered", "call.enqueued", "call.hangup", "call.dequeued"]


@pytest.mark.slow
def test_a_tiny_day_reports_every_hour_and_loses_nothing(tmp_path, capsys):
    out = tmp_path / "day.json"
    code = main(["bench", "--day", "--calls", "200", "--subscribers", "4", "--threads", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    day = json.loads(out.read_text())["day"]
    assert code == 0, printed
    assert set(json.loads(out.read_text())) == {"machine", "options", "day"}  # --day plays only the day
    assert day["calls"] == 200 and day["answered"] + day["abandoned"] == 200
    planned = ANSWERED_EVENTS * day["answered"] + ABANDONED_EVENTS * day["abandoned"]
    assert day["planned_events"] == planned == sum(day["events_per_hour"])
    hours = [f"{hour:02d}" for hour, events in enumerate(day["events_per_hour"][:24]) if events]
    assert [row["hour"] for row in day["hours"]] == hours
    for row in day["hours"]:
        assert row["accepted"] == row["events"] and row["failed"] == 0
        assert row["webhooks_per_s"] > 0 and row["ack_p99_ms"] is not None and row["wallboard_ms"] is not None
        assert row["rss_mib"] > 0 and row["db_mib"] > 0
    assert [row["events"] for row in day["hours"]] == [n for n in day["events_per_hour"][:24] if n]
    assert day["hours"][-1]["log_events"] == sum(day["events_per_hour"][:24])
    assert day["hours"][-1]["db_mib"] >= day["hours"][0]["db_mib"]
    assert sum(row["watcher_rounds"] for row in day["hours"]) > 0  # the open wallboard started the watcher
    assert sum(row["frame_samples"] for row in day["hours"]) > 0
    assert set(day["last_to_first"]) == {"webhooks_per_s", "ack_p99_ms", "frame_p99_ms", "wallboard_ms",
                                         "watcher_round_ms", "rss_mib", "db_mib"}
    assert day["last_to_first"]["db_mib"] > 0
    assert day["webhooks"] == {"sent": planned, "accepted": planned, "failed": 0, "all_accepted": True}
    assert day["log"] == {"events_checked": planned, "events_logged": planned, "calls_checked": 200,
                          "calls_complete": 200, "all_logged": True}
    assert day["final_view_check"]["passed"], day["final_view_check"]["mismatches"]
    lines = printed.splitlines()
    header = "".join(f"{title:>{width}}" for _, title, width in COLUMNS)
    at = lines.index(header)
    assert [line.split()[0] for line in lines[at + 2:at + 2 + len(hours)]] == hours
    assert lines[at + 2 + len(hours)].startswith("last/first")
    assert f"webhooks: {planned:,} of {planned:,} accepted (0 failed)" in printed
    assert "200 of 200 calls complete; final view check: passed" in printed


def test_the_day_is_a_call_center_of_answered_and_abandoned_calls():
    plan, agents = plan_day(600, seed=3)
    assert {agent.queue for agent in agents} == set(QUEUES)
    answered = [call for call in plan if call.agent]
    assert answered and len(answered) < len(plan)  # some callers give up
    for call in plan:
        types = [_payload(call, step)[0] for step in range(call.steps)]
        assert types == (ANSWERED_TYPES if call.agent else ABANDONED_TYPES)
        assert moments(call) == sorted(moments(call)) and len(moments(call)) == call.steps
        assert 0 <= call.arrived < 86400 and call.position >= 1
    busy = defaultdict(list)
    for call in answered:
        assert call.agent.queue == call.queue and call.answered > call.dialled >= call.enqueued
        busy[call.agent.name].append((call.dialled, call.ended))
    for spans in busy.values():  # an agent takes one call at a time
        spans.sort()
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))
    cut = segments(plan)
    assert len(cut) == 25 and sum(map(len, cut)) == sum(call.steps for call in plan)
    assert all(int(moment // 3600) == hour for hour, segment in enumerate(cut[:24]) for moment, _, _ in segment)
    assert all(moment >= 86400 for moment, _, _ in cut[24])
    stream = [item for segment in cut for item in segment]
    assert stream == sorted(stream)


def test_each_webhook_carries_its_moment_and_a_stable_id():
    plan, _ = plan_day(50, seed=5)
    call = next(call for call in plan if call.agent)
    at = datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
    dequeued = body(call, 7, 5, at)["data"]
    assert dequeued["event_type"] == "call.dequeued" and dequeued["payload"]["reason"] == "bridged"
    assert dequeued["occurred_at"] == "2030-01-02T03:04:05.600000Z"  # beside the payload, as the wire puts it
    created = body(call, 5, 5, at)["data"]
    assert created["payload"]["occurred_at"] == "2030-01-02T03:04:05.600000Z"  # inside it for conference events
    assert body(call, 7, 5, at)["data"]["id"] == dequeued["id"] != body(call, 7, 6, at)["data"]["id"]
    ids = Counter(body(c, step, 5, at)["data"]["id"] for c in plan for step in range(c.steps))
    assert max(ids.values()) == 1


def test_the_day_clock_moves_forward_only_and_keeps_real_datetimes_recognised(tmp_path, monkeypatch):
    path = str(tmp_path / "clock")
    start = datetime(2030, 1, 2, tzinfo=UTC).timestamp()
    create(path, start)
    writer = ClockFile(path, writable=True)
    monkeypatch.setattr(DayDatetime, "_clock", ClockFile(path))
    assert DayDatetime.now(UTC) == datetime(2030, 1, 2, tzinfo=UTC)
    writer.advance(start + 3600.5)
    writer.advance(start + 60)  # a webhook sent a little out of order does not turn the clock back
    assert DayDatetime.now(UTC) == datetime(2030, 1, 2, 1, 0, 0, 500000, tzinfo=UTC)
    assert isinstance(datetime.now(UTC), DayDatetime) and isinstance(DayDatetime.now(UTC), datetime)
    writer.close()


def test_the_pages_are_the_dashboard_and_every_queue():
    watches = day_watches(20)
    assert watches.count("dashboard") == 12
    assert Counter(w for w in watches if w != "dashboard") == {f"queue:{q}": 2 for q in QUEUES}


def test_each_alert_watcher_round_is_timed_in_the_metrics(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    watcher = get_watcher(app)
    try:
        watcher.start()
        watcher.notify({"queue:Sales"})
        registry = app.extensions["console.metrics"].registry
        wait_for(lambda: registry.get_sample_value("console_alert_round_seconds_count"), timeout=15,
                 message="no alert-watcher round was timed")
        assert registry.get_sample_value("console_alert_round_seconds_sum") >= 0
    finally:
        watcher.stop()
        app.extensions["console.hub"].stop()
