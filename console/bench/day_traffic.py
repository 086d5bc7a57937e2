"""A call center's day of queue calls, and the process that posts it signed, hour by hour.

Calls arrive evenly over 24 hours into 4 queues (so the first and the last hour carry the same
traffic and differ only in what the log already holds). Each caller is answered by the IVR, waits
in its queue, and is either answered by the queue's next free agent (who is dialled and meets the
caller in a conference of their own) or hangs up when their patience runs out. Each queue is a
first-come, first-served line with a fixed team of agents, sized to keep them about 85% busy;
an agent takes the next call after a short wrap-up.

An answered call is 14 webhooks: the caller's call.initiated and call.answered, call.enqueued, the
agent leg's call.initiated and call.answered, conference.created, the agent joining, call.dequeued
(bridged), the caller joining, both leaving and hanging up, conference.ended. An abandoned one is 5:
call.initiated, call.answered, call.enqueued, call.hangup, call.dequeued (hangup).

Event ids are derived from the seed, the call and the step, so the day can be checked against the
event log afterwards, call by call.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.bench.day_clock import ClockFile
from console.bench.stats import ms, percentile
from console.bench.traffic import sign_all
from console.bench.wire import hammer
from console.live.ui import dom_id
from console.state.store import Store

DAY_SECONDS = 86400
QUEUES = ("Sales", "Support", "Billing", "Retention")
CONNECTION_ID = "bench-day-connection"
ANSWERED_EVENTS = 14
ABANDONED_EVENTS = 5
# Seconds: the IVR before the queue, an agent's phone ringing, talk, wrap-up, and a caller's patience.
IVR = (4.0, 12.0)
RING = (3.0, 8.0)
TALK_MIN, TALK_MEAN = 60.0, 240.0
WRAP_UP = 30.0
PATIENCE_MEAN = 150.0
BUSY = 0.85
# Requests signed and sent together: each is signed just before its batch, well inside the console's
# webhook timestamp tolerance however slow the console is.
BATCH = 2000
_BESIDE = {"conference.participant.joined", "conference.participant.left", "call.enqueued", "call.dequeued",
           "call.initiated", "call.answered", "call.hangup"}
_NAMESPACE = uuid.UUID("7c1b7a52-2d1e-4f0e-9a51-5b0c1d2e3f40")


@dataclass
class Agent:
    name: str
    queue: str
    address: str


@dataclass
class Call:
    number: int
    queue: str
    arrived: float
    enqueued: float
    position: int = 1
    agent: Agent | None = None
    dialled: float = 0.0
    answered: float = 0.0  # the caller leaves the queue for the agent's conference
    ended: float = 0.0
    abandoned: float = 0.0

    @property
    def caller(self) -> str:
        return f"v3:day-call-{self.number:06d}"

    @property
    def agent_leg(self) -> str:
        return f"v3:day-agent-{self.number:06d}"

    @property
    def conference(self) -> str:
        return f"day-conf-{self.number:06d}"

    @property
    def steps(self) -> int:
        return ANSWERED_EVENTS if self.agent else ABANDONED_EVENTS


def team_size(calls_per_day: float, busy: float = BUSY) -> int:
    """Agents a queue needs to be about `busy` occupied by its calls."""
    held = sum(RING) / 2 + TALK_MIN + TALK_MEAN + WRAP_UP
    return max(1, math.ceil(calls_per_day / DAY_SECONDS * held / busy))


def plan_day(calls: int, seed: int = 7) -> tuple[list[Call], list[Agent]]:
    """The day's calls (by number, arrival order) and the agents who answer them."""
    rng = random.Random(seed)
    arrivals = sorted(rng.uniform(0, DAY_SECONDS) for _ in range(calls))
    plan = []
    for number, arrived in enumerate(arrivals):
        queue = rng.choice(QUEUES)
        plan.append(Call(number, queue, arrived, arrived + rng.uniform(*IVR)))
    agents: list[Agent] = []
    for index, queue in enumerate(QUEUES):
        mine = sorted((call for call in plan if call.queue == queue), key=lambda call: call.enqueued)
        team = [Agent(f"{queue} agent {k + 1}", queue, f"+1773555{index}{k:03d}")
                for k in range(team_size(len(mine)))]
        agents += team
        _serve(mine, team, rng)
    return plan, agents


def _serve(calls: list[Call], team: list[Agent], rng: random.Random) -> None:
    """First come, first served with abandonment: a caller who gives up takes no agent."""
    free = [(0.0, k) for k in range(len(team))]
    leaving: list[float] = []  # when each caller now in the queue leaves it
    for call in calls:
        while leaving and leaving[0] <= call.enqueued:
            heapq.heappop(leaving)
        call.position = len(leaving) + 1
        patience = rng.expovariate(1 / PATIENCE_MEAN)
        free_at, k = free[0]
        dialled = max(call.enqueued, free_at)
        answered = dialled + rng.uniform(*RING)
        if answered - call.enqueued > patience:
            call.abandoned = call.enqueued + patience
            heapq.heappush(leaving, call.abandoned)
            continue
        heapq.heappop(free)
        call.agent, call.dialled, call.answered = team[k], dialled, answered
        call.ended = answered + TALK_MIN + rng.expovariate(1 / TALK_MEAN)
        heapq.heappush(free, (call.ended + 1.0 + WRAP_UP, k))
        heapq.heappush(leaving, answered)


def event_id(seed: int, call: int, step: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{seed}/{call}/{step}"))


def moments(call: Call) -> list[float]:
    """Seconds into the day of each of the call's webhooks, step by step."""
    start = [call.arrived, call.arrived + 1.0, call.enqueued]
    if call.agent is None:
        return [*start, call.abandoned, call.abandoned + 0.05]
    a, e = call.answered, call.ended
    return [*start, call.dialled, a - 0.6, a - 0.4, a - 0.2, a, a + 0.2, e, e + 0.1, e + 0.3, e + 0.4, e + 0.6]


def _leg(ccid: str) -> dict:
    return {"call_control_id": ccid, "call_leg_id": f"leg-{ccid}", "call_session_id": f"session-{ccid}"}


def _payload(call: Call, step: int) -> tuple[str, dict]:
    """The event type and payload of one step of a call."""
    queue_line = f"+1800555010{QUEUES.index(call.queue)}"
    caller, agent = _leg(call.caller), _leg(call.agent_leg)
    hangup = {"hangup_cause": "normal_clearing", "sip_hangup_cause": "200"}
    if step == 0:
        return "call.initiated", {**caller, "direction": "incoming", "from": f"+1312{call.number % 10**7:07d}",
                                  "to": queue_line, "caller_id_name": f"Caller {call.number}", "state": "parked"}
    if step == 1:
        return "call.answered", {**caller, "state": "answered"}
    if step == 2:
        return "call.enqueued", {**caller, "queue": call.queue, "current_position": call.position,
                                 "queue_avg_wait_time_secs": 30}
    waited = round((call.answered or call.abandoned) - call.enqueued)
    if call.agent is None:
        if step == 3:
            return "call.hangup", {**caller, **hangup, "hangup_source": "caller"}
        return "call.dequeued", {**caller, "queue": call.queue, "queue_position": 1, "wait_time_secs": waited,
                                 "reason": "hangup"}
    conference = {"conference_id": call.conference}
    answered_steps = {
        3: ("call.initiated", {**agent, "direction": "outgoing", "from": queue_line, "to": call.agent.address,
                               "caller_id_name": call.queue, "state": "bridging"}),
        4: ("call.answered", {**agent, "state": "answered"}),
        5: ("conference.created", {**conference, **agent, "name": f"{call.queue} call {call.number}"}),
        6: ("conference.participant.joined", {**conference, **agent}),
        7: ("call.dequeued", {**caller, "queue": call.queue, "queue_position": 1, "wait_time_secs": waited,
                              "reason": "bridged"}),
        8: ("conference.participant.joined", {**conference, **caller}),
        9: ("conference.participant.left", {**conference, **caller}),
        10: ("call.hangup", {**caller, **hangup, "hangup_source": "caller"}),
        11: ("conference.participant.left", {**conference, **agent}),
        12: ("call.hangup", {**agent, **hangup, "hangup_source": "callee"}),
        13: ("conference.ended", {**conference, "reason": "all_left"}),
    }
    return answered_steps[step]


def markers(call: Call, step: int) -> list[str]:
    """Element ids a page redraws for this step (the webhook -> frame latency markers), if any."""
    event_type, _ = _payload(call, step)
    if event_type in ("call.enqueued", "call.dequeued"):
        return [dom_id("queued-call", call.queue, call.caller)]
    if event_type in ("conference.created", "conference.ended"):
        return [dom_id("conference", call.conference)]
    return []


def body(call: Call, step: int, seed: int, at: datetime) -> dict:
    """One webhook as Telnyx sends it; occurred_at beside the payload or inside it, as the wire puts it."""
    event_type, payload = _payload(call, step)
    payload = {"connection_id": CONNECTION_ID, "client_state": None, **payload}
    data = {"record_type": "event", "event_type": event_type, "id": event_id(seed, call.number, step),
            "payload": payload}
    (data if event_type in _BESIDE else payload)["occurred_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"data": data}


def segments(plan: list[Call]) -> list[list[tuple[float, int, int]]]:
    """The day's webhooks as (second of the day, call, step), in order, cut into 24 hours and what
    comes after midnight (calls still in progress at 24:00)."""
    stream = sorted((moment, call.number, step) for call in plan for step, moment in enumerate(moments(call)))
    cut: list[list[tuple[float, int, int]]] = [[] for _ in range(25)]
    for item in stream:
        cut[min(24, int(item[0] // 3600))].append(item)
    return cut


class DayPoster:
    """Posts the day one segment at a time and moves the day's clock with each webhook it sends."""

    def __init__(self, port: int, seed_b64: str, clock_path: str, *, calls: int, seed: int, day_start: float):
        self.port, self.seed_b64, self.seed, self.day_start = port, seed_b64, seed, day_start
        self.plan, self.agents = plan_day(calls, seed)
        self.segments = segments(self.plan)
        self.clock = ClockFile(clock_path, writable=True)

    def summary(self) -> dict:
        answered = sum(1 for call in self.plan if call.agent)
        waits = [call.answered - call.enqueued for call in self.plan if call.agent]
        return {"calls": len(self.plan), "answered": answered, "abandoned": len(self.plan) - answered,
                "events": sum(len(segment) for segment in self.segments),
                "segment_events": [len(segment) for segment in self.segments],
                "agents": [(agent.name, agent.queue, [agent.address]) for agent in self.agents],
                "mean_wait_s": round(sum(waits) / len(waits), 1) if waits else None}

    def post(self, index: int, rate: float | None, threads: int) -> dict:
        """Sign and send segment `index` in batches; counts, acknowledgement times and latency markers."""
        segment = self.segments[index]
        ok = failed = 0
        elapsed = 0.0
        acks: list[float] = []
        found: list[tuple[float, list[str]]] = []
        for first in range(0, len(segment), BATCH):
            batch = segment[first:first + BATCH]
            bodies = [body(self.plan[call], step, self.seed, self._at(moment)) for moment, call, step in batch]
            requests = [("POST", "/webhooks/telnyx", raw, headers) for raw, headers in sign_all(bodies, self.seed_b64)]
            result = hammer(self.port, requests, rate=rate, threads=threads, duration=3600.0,
                            on_send=lambda i, batch=batch: self.clock.advance(self.day_start + batch[i][0]))
            ok, failed, elapsed = ok + result["ok"], failed + result["failed"], elapsed + result["elapsed"]
            acks += result["acks"]
            for i, sent in result["sent_at"].items():
                ids = markers(self.plan[batch[i][1]], batch[i][2])
                if ids:
                    found.append((sent, ids))
        if index < 24:  # the hour is over: the console's clock reads its last moment
            self.clock.advance(self.day_start + (index + 1) * 3600 - 0.001)
        return {"sent": len(segment), "ok": ok, "failed": failed, "elapsed": elapsed,
                "ack_p50_ms": ms(percentile(acks, 0.50)), "ack_p99_ms": ms(percentile(acks, 0.99)),
                "markers": sorted(found)}

    def _at(self, moment: float) -> datetime:
        return datetime.fromtimestamp(self.day_start, UTC) + timedelta(seconds=moment)

    def check_log(self, database: str) -> dict:
        """How many of the day's events, and of its calls (every event of the call), the event log holds."""
        store = Store(database)
        try:
            logged = complete = 0
            for call in self.plan:
                held = sum(store.has_event(event_id(self.seed, call.number, step)) for step in range(call.steps))
                logged += held
                complete += held == call.steps
        finally:
            store.close()
        return {"events_checked": sum(call.steps for call in self.plan), "events_logged": logged,
                "calls_checked": len(self.plan), "calls_complete": complete}


def run_day_poster(connection, port: int, seed_b64: str, clock_path: str, *, calls: int, seed: int,
                   day_start: float) -> None:
    """Poster process: plan the day, post the segments the parent asks for, check the log at the end."""
    poster = DayPoster(port, seed_b64, clock_path, calls=calls, seed=seed, day_start=day_start)
    while True:
        command, *args = connection.recv()
        if command == "stop":
            poster.clock.close()
            connection.send("stopped")
            return
        if command == "plan":
            connection.send(poster.summary())
        elif command == "segment":
            connection.send(poster.post(*args))
        elif command == "check":
            connection.send(poster.check_log(*args))
