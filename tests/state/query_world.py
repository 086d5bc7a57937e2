"""A busy console for the query-plan test: a day of traffic in the store, then every reader exercised once.

`seed` fills a file database with a realistic mix (bench traffic through conferences and queues,
queue calls answered into conferences with an agent or abandoned, recordings, audit entries with
and without confirmations, alerts and an acknowledgement, users, sessions, sign-in failures,
agents and a supervisor line). `exercise` then loads every GET page and fragment of the app as an
admin, draws a hub snapshot and a hub tick for every watch kind, runs a reconcile pass against a
stand-in Telnyx, a nudged conference fetch, and an alert-watcher round.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from console.access.users import add_user
from console.bench.traffic import Traffic
from console.ingest.reconcile import Reconciler
from console.live.agent_board import WATCH as AGENTS_WATCH
from console.live.subscription import Subscription
from console.queues.alerts import get_watcher
from console.state import agents as agent_rows
from console.state.history_rows import NEWER, OLDER, Cursor
from console.state.schema import AUDIT_EVENT
from console.telnyx.errors import NotFoundError
from console.telnyx.events import console_event, format_timestamp, parse_event
from console.telnyx.signing import sign
from tests import event_factory as ef
from tests.signing_in import signed_in_client

PASSWORD = "correct horse battery staple"
QUEUES = ("Support", "Sales", "Billing", "Priority")
AGENT_NUMBER = "+15557770000"


def queue_lives(start: datetime, calls: int, prefix: str = "") -> list:
    """`calls` callers queued one a minute: most answered into a conference with an agent, some abandon."""
    events = []
    for n in range(calls):
        t = start + timedelta(minutes=n)
        caller, agent, conference = f"v3:{prefix}caller-{n}", f"v3:{prefix}agent-{n}", f"conf-{prefix}q-{n}"
        queue = QUEUES[n % len(QUEUES)]
        s = lambda seconds, t=t: t + timedelta(seconds=seconds)
        events += [ef.call_initiated(caller, s(0), from_=f"+1555{n:07d}", caller_id_name=f"Caller {n}"),
                   ef.call_answered(caller, s(1)), ef.enqueued(queue, caller, s(2))]
        if n % 5 == 4:
            events += [ef.dequeued(queue, caller, s(40), reason="hangup", wait=38), ef.call_hangup(caller, s(40))]
            continue
        events += [ef.dequeued(queue, caller, s(20), wait=18), ef.conference_created(conference, caller, s(20)),
                   ef.joined(conference, caller, s(20)),
                   ef.call_initiated(agent, s(21), from_=AGENT_NUMBER, caller_id_name="Agent Smith"),
                   ef.call_answered(agent, s(22)), ef.joined(conference, agent, s(22))]
        if n < calls - 3:  # the last few are still talking
            events += [ef.left(conference, caller, s(200)), ef.call_hangup(caller, s(200)),
                       ef.left(conference, agent, s(201)), ef.call_hangup(agent, s(201)),
                       ef.conference_ended(conference, s(202)),
                       ef.recording_saved(conference, f"rec-{n}", s(20), s(202), call_control_id=caller)]
    return events


def audit_entries(start: datetime, count: int) -> list:
    """Audit entries by two users; half await a webhook that confirms them (those for even n do arrive)."""
    entries = []
    for n in range(count):
        entry = {"at": format_timestamp(start + timedelta(seconds=30 * n)), "user_name": ("ada", "sam")[n % 2],
                 "role": "supervisor",
                 "action": ("participants.mute", "queues.dequeue", "conferences.end")[n % 3],
                 "endpoint": "actions.participant_flag", "method": "POST", "path": "/x", "result": "ok",
                 "status": 200, "conference_id": f"conf-q-{n}", "call_control_id": f"v3:caller-{n}",
                 "parameters": {"n": str(n), "flags": ["a", "b"]}}
        if n % 2 == 0:
            entry |= {"awaits_event_type": "call.hangup", "awaits_field": "call_control_id",
                      "awaits_value": f"v3:caller-{n}"}
        entries.append(console_event(AUDIT_EVENT, entry, start + timedelta(seconds=30 * n)))
    return entries


def alerts(start: datetime) -> list:
    """Alerts raised and cleared in two queues, and one acknowledgement."""
    raised = console_event("console.alert.raised", {"queue": "Support", "metric": "depth", "level": "critical",
                                                    "value": 9, "message": "Support: callers waiting critical (9)."},
                           start)
    return [raised,
            console_event("console.alert.acknowledged", {"alert_id": raised.id, "queue": "Support",
                                                         "metric": "depth", "level": "critical", "by": "ada",
                                                         "role": "supervisor"}, start + timedelta(seconds=5)),
            console_event("console.alert.cleared", {"queue": "Support", "metric": "depth", "level": "ok",
                                                    "value": 1, "message": "Support back to normal."},
                          start + timedelta(seconds=60)),
            console_event("console.alert.raised", {"queue": "Sales", "metric": "longest_wait", "level": "warning",
                                                   "value": 70, "message": "Sales: longest wait warning (70s)."},
                          start + timedelta(seconds=90))]


def seed(app, *, traffic_events: int = 3000, calls: int = 60) -> dict:
    """Fill the app's store; returns the ids the pages are then loaded with."""
    store = app.extensions["console.store"]
    now = datetime.now(UTC).replace(microsecond=0)
    start = max(now - timedelta(hours=3), now.replace(hour=0, minute=0, second=0))
    traffic = Traffic(conferences=30, queues=4, seed=3, start=start)
    bodies = [body for body, _ in traffic.opening(participants=3) + traffic.events(traffic_events)]
    # Audit entries first: the webhooks that confirm half of them come after, as they would.
    events = audit_entries(start, 40) + [parse_event(body) for body in bodies] + queue_lives(start, calls)
    events += alerts(start + timedelta(minutes=5))
    for first in range(0, len(events), 500):
        store.apply_many(events[first:first + 500])
    add_user(store, "ada", "admin", PASSWORD)
    add_user(store, "sam", "supervisor", PASSWORD)
    agent_rows.save_agent(store, "Agent Smith", "Blue", [AGENT_NUMBER])
    return refresh(app, {"day": start.date().isoformat(), "call": "v3:caller-1", "traffic": traffic})


def refresh(app, ids: dict) -> dict:
    """`ids` with a live and an ended conference, a participant, and a queue with a caller waiting now."""
    store = app.extensions["console.store"]
    live = store.live_conferences()
    queue = next(queue for queue in store.queues() if queue["current_size"])
    return ids | {"live": live[0]["id"], "ended": store.ended_conferences(5)[0]["id"],
                  "participant": store.participants(live[0]["id"])[0]["call_control_id"],
                  "queue": queue["name"], "queued": store.queue_calls(queue["name"])[0]["call_control_id"]}


class StandInTelnyx:
    """Answers the reconciler from the store, one conference short, so it has corrections to publish."""

    def __init__(self, store):
        self.store = store

    def list_conferences(self, name=None, status=None, **_):
        live = [c for c in self.store.live_conferences() if c["status"] == status]
        return [{"id": c["id"], "name": c.get("name"), "status": c["status"]} for c in live[1:]]

    def retrieve_conference(self, conference_id, **_):
        known = self.store.conference(conference_id)
        if known is None:
            raise NotFoundError("no such conference", status=404)
        return {"id": conference_id, "name": (known.get("name") or "") + " (renamed)", "status": known["status"]}

    def list_participants(self, conference_id, **_):
        return [{"id": f"p-{p['call_control_id']}", "call_control_id": p["call_control_id"], "status": "joined",
                 "muted": True, "on_hold": False} for p in self.store.participants(conference_id)]

    def retrieve_participant(self, conference_id, participant_id):
        return {"label": "Labelled"}

    def list_queues(self, **_):
        return [{"name": q["name"], "max_size": 50, "average_wait_time_secs": 12} for q in self.store.queues()]

    def list_queue_calls(self, name, **_):
        return [{"call_control_id": c["call_control_id"], "queue_position": n + 1, "enqueued_at": c["enqueued_at"]}
                for n, c in enumerate(self.store.queue_calls(name)[1:])]


def get_urls(ids: dict) -> dict[str, list[str]]:
    """Every GET endpoint the test loads, with its URLs (more than one where filters change the query)."""
    day, conf, leg, queue = ids["day"], ids["live"], ids["participant"], ids["queue"]
    at = f"{day}T12:00:00.000000Z"
    older, newer = Cursor(OLDER, at, 10**9), Cursor(NEWER, f"{day}T00:00:00.000000Z", 0)
    return {
        "pages.dashboard": ["/", "/?q=bench"],
        "pages.conference": [f"/conferences/{conf}", f"/conferences/{ids['ended']}"],
        "pages.queue": [f"/queues/{queue}"],
        "pages.ended": ["/ended"],
        "actions.join_form": [f"/conferences/{conf}/join-control"],
        "actions.participant_more": [f"/conferences/{conf}/participants/{leg}/more"],
        "supervise.panel_body": [f"/conferences/{conf}/supervision"],
        "supervise.profile": ["/supervisor"],
        "supervise.line_box": ["/supervisor/line"],
        "shift.line_bar": ["/supervisor/line/bar"],
        "breach.breach_action_forms": [f"/queues/{queue}/calls/{ids['queued']}/breach-actions"],
        "queue_actions.parked_calls_panel": ["/calls/parked"],
        "agent_board.page": ["/agents"],
        "agent_board.cards": ["/agents/cards"],
        "agents.directory_page": ["/agents/directory"],
        "history.page": [f"/history?date={day}", f"/history?date={day}&q=Caller",
                         f"/history?date={day}&calls={older.token()}&conferences={Cursor(OLDER, at, 'x').token()}",
                         f"/history?date={day}&calls={newer.token()}&conferences={Cursor(NEWER, at, '').token()}"],
        "history.calls_csv": [f"/history/calls.csv?date={day}", f"/history/calls.csv?date={day}&q=Support"],
        "history.kpis_csv": [f"/history/kpis.csv?date={day}"],
        "history.call_timeline_page": [f"/calls/{ids['call']}/timeline"],
        "history.alerts_page": ["/alerts"],
        "audit.page": ["/audit", "/audit?user=ada", "/audit?action=queues.dequeue", "/audit?conference=conf-q-3",
                       f"/audit?since={day}T00:00:00&until={day}T23:59:59"],
        "audit.export": ["/audit.csv", "/audit.csv?user=sam"],
        "users.page": ["/users"],
        "wallboard.board_page": ["/wallboard"],
        "wallboard.board": ["/wallboard/board", f"/wallboard/board?queues={queue}"],
        "health.healthz": ["/healthz"],
        "health.readyz": ["/readyz"],
        "metrics_views.exposition": ["/metrics"],
        "auth.login": ["/login"],
    }


# Endpoints the test does not load as pages, and why.
NOT_PAGES = {"static": "files from disk, no SQL",
             "live.socket": "the WebSocket: the hub ticks below draw what it sends"}


def load_pages(app, ids: dict) -> dict[str, int]:
    """Sign in (one failed attempt first), load every URL, acknowledge an alert; the status of each URL."""
    client = app.test_client()
    client.post("/login", data={"name": "ada", "password": "wrong"})
    client = signed_in_client(app, "ada", PASSWORD)
    statuses = {}
    for urls in get_urls(ids).values():
        for url in urls:
            response = client.get(url)
            response.get_data()  # a streamed body runs its queries as it is read
            statuses[url] = response.status_code
    alert = next(e for e in app.extensions["console.store"].logged_events_of_types(["console.alert.raised"])
                 if e.payload.get("queue") == "Sales")
    statuses["ack"] = client.post(f"/alerts/{alert.id}/acknowledge").status_code
    statuses["phone"] = client.post("/supervisor/phone", data={"phone": "+15551230000"}).status_code
    return statuses


def tick_every_watch(app, ids: dict) -> None:
    """A snapshot for every watch kind, then a tick drawing what new traffic and a queue life changed."""
    hub = app.extensions["console.hub"]
    watches = ["dashboard", "ended", "wallboard", AGENTS_WATCH, f"conference:{ids['live']}",
               f"conference:{ids['ended']}", f"queue:{ids['queue']}"]
    pages = [Subscription(hub, watch, "", 10_000) for watch in watches]
    hub.run_tick(set(), pages, pages)
    store = app.extensions["console.store"]
    later = datetime.now(UTC)
    events = [parse_event(body) for body, _ in ids["traffic"].events(200)] + queue_lives(later, 2, prefix="later-")
    keys = store.apply_many(events)
    keys |= {"alerts", "alert:Support"}
    hub.run_tick(keys, [], pages)


def reconcile_and_watch(app, ids: dict) -> None:
    """A full reconcile pass and a nudged fetch against the stand-in, then one alert-watcher round."""
    app.extensions["console.telnyx"] = StandInTelnyx(app.extensions["console.store"])
    reconciler = Reconciler(app, interval=3600)
    reconciler.run_once()
    reconciler.nudge(ids["live"])
    reconciler.fetch_pending()
    with app.app_context():
        get_watcher(app).check()


def post_webhooks(app, key, ids: dict, count: int = 30) -> list[int]:
    """More traffic through the real webhook route (signature, replay ledger, group commit); the statuses."""
    client = app.test_client()
    statuses = []
    for body, _ in ids["traffic"].events(count):
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **sign(raw, key)}
        statuses.append(client.post("/webhooks/telnyx", data=raw, headers=headers).status_code)
    return statuses
