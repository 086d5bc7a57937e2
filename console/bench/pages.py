"""Page cost at a large state: many live conferences full of participants and long queues.

The state is built by applying events straight to a store (no HTTP), then each page is rendered
through the app several times; the median and worst server times and the HTML size are reported.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from console.bench.live import READER_HEADERS
from console.telnyx.events import parse_event
from console.web.app import create_app

RUNS = 7


def _leg(call_control_id: str) -> dict:
    return {"call_control_id": call_control_id, "call_leg_id": f"leg-{call_control_id}",
            "call_session_id": f"session-{call_control_id}"}


def large_state_events(conferences: int, participants: int, queues: int, queued: int):
    """Events for `conferences` live conferences of `participants` each and `queues` queues of `queued` callers."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    step = [0]

    def when() -> str:
        step[0] += 1
        return (start + timedelta(milliseconds=step[0])).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def event(event_type: str, beside: bool, **payload):
        data = {"record_type": "event", "event_type": event_type, "id": f"large-{step[0]}-{event_type}",
                "payload": {"connection_id": "bench-connection", **payload}}
        (data if beside else data["payload"])["occurred_at"] = when()
        return parse_event({"data": data})

    for c in range(conferences):
        conference = f"large-conf-{c:04d}"
        host = f"v3:large-{c:04d}-0"
        yield event("conference.created", False, conference_id=conference, name=f"Team room {c}", **_leg(host))
        for p in range(participants):
            leg = f"v3:large-{c:04d}-{p}"
            yield event("call.initiated", True, direction="incoming", caller_id_name=f"Caller {c}-{p}",
                        state="parked", to="+13125550100", **{"from": f"+1312{c:03d}{p:04d}"}, **_leg(leg))
            yield event("conference.participant.joined", True, conference_id=conference, **_leg(leg))
        yield event("conference.floor.changed", False, conference_id=conference, **_leg(host))
    for q in range(queues):
        name = f"large-queue-{q:03d}"
        for n in range(queued):
            leg = f"v3:large-q{q:03d}-{n:04d}"
            yield event("call.initiated", True, direction="incoming", caller_id_name=f"Waiting {q}-{n}",
                        state="parked", to="+13125550100", **{"from": f"+1773{q:03d}{n:04d}"}, **_leg(leg))
            yield event("call.enqueued", True, queue=name, current_position=n + 1, queue_avg_wait_time_secs=40,
                        **_leg(leg))


def build_large_state(store, conferences: int, participants: int, queues: int, queued: int,
                      batch: int = 1000) -> int:
    """Apply the large state's events to `store` in batches; return how many were applied."""
    pending, count = [], 0
    for event in large_state_events(conferences, participants, queues, queued):
        pending.append(event)
        if len(pending) >= batch:
            store.apply_many(pending)
            count += len(pending)
            pending = []
    if pending:
        store.apply_many(pending)
        count += len(pending)
    return count


def _time_page(client, path: str) -> dict:
    times, size = [], 0
    for _ in range(RUNS + 1):
        started = time.perf_counter()
        response = client.get(path, headers=READER_HEADERS)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        size = len(response.get_data())
    times = times[1:]  # the first render also compiles templates
    return {"path": path, "median_ms": round(1000 * statistics.median(times), 1),
            "max_ms": round(1000 * max(times), 1), "html_bytes": size}


def measure_pages(database: str, conferences: int = 500, participants: int = 8, queues: int = 50,
                  queued: int = 100) -> dict:
    """Build the large state in `database` and time the dashboard, a conference page and a queue page."""
    app = create_app({"CONSOLE_DATABASE": database, "CONSOLE_SECRET_KEY": "bench-only-secret",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "CONSOLE_TRUSTED_HEADER_AUTH": True,
                      "CONSOLE_TRUSTED_PROXIES": "127.0.0.1"})
    store = app.extensions["console.store"]
    started = time.perf_counter()
    applied = build_large_state(store, conferences, participants, queues, queued)
    build_seconds = time.perf_counter() - started
    client = app.test_client()
    middle = f"large-conf-{conferences // 2:04d}"
    pages = {
        "dashboard": _time_page(client, "/"),
        "conference": _time_page(client, f"/conferences/{middle}"),
        "queue": _time_page(client, f"/queues/large-queue-{queues // 2:03d}" if queues else "/"),
    }
    app.extensions["console.hub"].stop()
    store.close()
    return {"state": {"conferences": conferences, "participants_each": participants, "queues": queues,
                      "queued_each": queued, "events": applied, "build_s": round(build_seconds, 2),
                      "events_per_s_batched": round(applied / build_seconds, 1)},
            "pages": pages}
