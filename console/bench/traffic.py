"""Benchmark traffic: a realistic stream of all 20 Telnyx webhook types, and a process that posts it signed.

`Traffic` plays a call center: conferences that people join and leave while someone talks, plays
or speaks, recordings saved, calls that arrive, are answered, gathered, queued, dequeued into a
conference or hung up. Each body comes with the element ids its rendering will carry (the
benchmark's latency markers) for the event types whose change is certain to be pushed.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from console.bench.stats import ms, percentile
from console.bench.wire import hammer
from console.live.ui import dom_id
from console.state.store import Store
from console.telnyx.events import parse_event
from console.telnyx.signing import load_signing_key, sign

CONNECTION_ID = "bench-connection"
# Where the wire format puts occurred_at: beside the payload, inside it, or nowhere (recording.saved).
_BESIDE = {"conference.participant.joined", "conference.participant.left", "call.enqueued", "call.dequeued",
           "call.initiated", "call.answered", "call.hangup", "call.gather.ended"}
_CONFERENCE_WIDE = {"conference.playback.started", "conference.playback.ended",
                    "conference.speak.started", "conference.speak.ended"}


def conference_id(slot: int, generation: int = 0) -> str:
    """The id of a benchmark conference (slot `slot`, `generation`-th conference in it)."""
    return f"bench-conf-{slot:04d}-{generation}"


def queue_name(index: int) -> str:
    """The name of a benchmark queue."""
    return f"bench-queue-{index:03d}"


@dataclass
class _Conference:
    id: str
    participants: list[str] = field(default_factory=list)
    floor: str | None = None
    playing: bool = False
    speaking: bool = False


class Traffic:
    """A seeded call center producing (body, markers) pairs whose state stays bounded."""

    def __init__(self, *, conferences: int = 40, queues: int = 10, seed: int = 7, max_participants: int = 8,
                 max_waiting: int = 8, start: datetime | None = None):
        self.random = random.Random(seed)
        self.max_participants = max_participants
        self.max_waiting = max_waiting
        self.clock = start or datetime.now(UTC)
        self.calls = 0
        self.generations = [0] * conferences
        self.conferences: list[_Conference | None] = [None] * conferences
        self.queues = [queue_name(i) for i in range(queues)]
        self.waiting: dict[str, list[str]] = {name: [] for name in self.queues}
        self.parked: list[str] = []

    # -- building bodies ----------------------------------------------------------------------

    def _body(self, event_type: str, **payload) -> dict:
        self.clock += timedelta(microseconds=500)
        moment = self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        payload = {"connection_id": CONNECTION_ID} | payload
        if event_type not in _CONFERENCE_WIDE:
            payload.setdefault("client_state", None)
        data = {"record_type": "event", "event_type": event_type, "id": str(uuid.uuid4()), "payload": payload}
        if event_type != "conference.recording.saved":
            (data if event_type in _BESIDE else payload)["occurred_at"] = moment
        return data if event_type == "conference.floor.changed" else {"data": data}

    @staticmethod
    def _leg(call_control_id: str) -> dict:
        return {"call_control_id": call_control_id, "call_leg_id": f"leg-{call_control_id}",
                "call_session_id": f"session-{call_control_id}"}

    def _new_call(self) -> str:
        self.calls += 1
        return f"v3:bench-{self.calls:07d}"

    # -- the call center ----------------------------------------------------------------------

    def opening(self, participants: int = 1) -> list[tuple[dict, list[str]]]:
        """Create every conference slot with `participants` in each, and one waiting caller per queue."""
        out = []
        for slot in range(len(self.conferences)):
            out += self._create(slot)
            for _ in range(min(participants, self.max_participants) - 1):
                out += self._walk_in(slot)
        for name in self.queues:
            out += self._arrive(name)
        return out

    def _create(self, slot: int) -> list[tuple[dict, list[str]]]:
        conference = _Conference(conference_id(slot, self.generations[slot]))
        self.conferences[slot] = conference
        host = self._new_call()
        conference.participants.append(host)
        markers = [dom_id("conference", conference.id), dom_id("conference-header", conference.id)]
        return [
            (self._body("call.initiated", **self._leg(host), direction="outgoing", to="+13125550100",
                        **{"from": "+13125550199"}, caller_id_name="Agent", state="bridging"), []),
            (self._body("conference.created", conference_id=conference.id, name=f"Bench room {slot}",
                        **self._leg(host)), markers),
            (self._body("conference.participant.joined", conference_id=conference.id, label="Agent",
                        **self._leg(host)), [dom_id("participant", conference.id, host)]),
        ]

    def _walk_in(self, slot: int) -> list[tuple[dict, list[str]]]:
        """A caller dialled straight into a conference: answered, then joined."""
        conference = self.conferences[slot]
        caller = self._new_call()
        conference.participants.append(caller)
        return [
            (self._body("call.initiated", **self._leg(caller), direction="incoming", to="+13125550100",
                        caller_id_name=f"Caller {self.calls}", state="parked",
                        **{"from": f"+1312555{self.calls % 10000:04d}"}), []),
            (self._body("call.answered", **self._leg(caller), state="answered"), []),
            (self._body("conference.participant.joined", conference_id=conference.id, **self._leg(caller)),
             [dom_id("participant", conference.id, caller)]),
        ]

    def _arrive(self, name: str) -> list[tuple[dict, list[str]]]:
        caller = self._new_call()
        self.waiting[name].append(caller)
        number = f"+1312555{self.calls % 10000:04d}"
        return [
            (self._body("call.initiated", **self._leg(caller), direction="incoming", to="+13125550100",
                        caller_id_name=f"Caller {self.calls}", state="parked", **{"from": number}), []),
            (self._body("call.answered", **self._leg(caller), state="answered"), []),
            (self._body("call.gather.ended", **self._leg(caller), digits="1#", status="valid"), []),
            (self._body("call.enqueued", **self._leg(caller), queue=name, current_position=len(self.waiting[name]),
                        queue_avg_wait_time_secs=30),
             [dom_id("queued-call", name, caller)]),
        ]

    def _conference_step(self, slot: int) -> list[tuple[dict, list[str]]]:
        conference = self.conferences[slot]
        r = self.random.random()
        cid = conference.id
        if r < 0.02 and len(conference.participants) <= 1:
            self.conferences[slot] = None
            self.generations[slot] += 1
            ended = [(self._body("conference.ended", conference_id=cid, reason="all_left"),
                      [dom_id("conference", cid)])]
            return ended + self._create(slot)
        if r < 0.30 and len(conference.participants) < self.max_participants:
            source = next((name for name in self.random.sample(self.queues, len(self.queues)) if self.waiting[name]),
                          None)
            if source is None:
                return self._arrive(self.random.choice(self.queues))
            caller = self.waiting[source].pop(0)
            conference.participants.append(caller)
            return [
                (self._body("call.dequeued", **self._leg(caller), queue=source, queue_position=1, wait_time_secs=20,
                            reason="bridged"), [dom_id("queued-call", source, caller)]),
                (self._body("conference.participant.joined", conference_id=cid, **self._leg(caller)),
                 [dom_id("participant", cid, caller)]),
            ]
        if r < 0.45 and len(conference.participants) > 1:
            leaving = self.random.choice(conference.participants[1:])
            conference.participants.remove(leaving)
            if conference.floor == leaving:
                conference.floor = None
            return [
                (self._body("conference.participant.left", conference_id=cid, **self._leg(leaving)),
                 [dom_id("participant", cid, leaving)]),
                (self._body("call.hangup", **self._leg(leaving), hangup_cause="normal_clearing",
                            hangup_source="caller", sip_hangup_cause="200"), []),
            ]
        if r < 0.65:
            talker = self.random.choice(conference.participants)
            conference.floor = talker
            return [(self._body("conference.floor.changed", conference_id=cid, **self._leg(talker)), [])]
        if r < 0.75:
            who = self.random.choice(conference.participants)
            kind = self.random.choice(("playback", "speak"))
            media = {"media_url": "http://bench.invalid/hold.wav", "media_name": None} if kind == "playback" else {}
            return [(self._body(f"conference.participant.{kind}.{phase}", conference_id=cid,
                                creator_call_session_id="session-console", **self._leg(who), **media), [])
                    for phase in ("started", "ended")]
        if r < 0.90:
            kind = self.random.choice(("playback", "speak"))
            if kind == "playback":
                conference.playing = not conference.playing
                phase = "started" if conference.playing else "ended"
            else:
                conference.speaking = not conference.speaking
                phase = "started" if conference.speaking else "ended"
            media = {"media_name": "announcement", "media_url": None} if kind == "playback" else {}
            return [(self._body(f"conference.{kind}.{phase}", conference_id=cid,
                                creator_call_session_id="session-console", **media), [])]
        recording = str(uuid.uuid4())
        started = self.clock - timedelta(seconds=30)
        stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
        return [(self._body("conference.recording.saved", conference_id=cid, recording_id=recording,
                            call_control_id=conference.participants[0], call_session_id="session-rec",
                            channels="single", format="wav", recording_started_at=started.strftime(stamp),
                            recording_ended_at=self.clock.strftime(stamp),
                            recording_urls={"mp3": None, "wav": f"http://bench.invalid/{recording}.wav"},
                            public_recording_urls={"mp3": None, "wav": None}), [])]

    def _queue_step(self) -> list[tuple[dict, list[str]]]:
        name = self.random.choice(self.queues)
        waiting = self.waiting[name]
        if len(waiting) < self.max_waiting and (not waiting or self.random.random() < 0.6):
            return self._arrive(name)
        caller = waiting.pop(0)
        return [
            (self._body("call.dequeued", **self._leg(caller), queue=name, queue_position=1, wait_time_secs=45,
                        reason="hangup"), [dom_id("queued-call", name, caller)]),
            (self._body("call.hangup", **self._leg(caller), hangup_cause="normal_clearing", hangup_source="caller",
                        sip_hangup_cause="200"), []),
        ]

    def events(self, count: int) -> list[tuple[dict, list[str]]]:
        """At least `count` more (body, markers) pairs of the running call center."""
        out: list[tuple[dict, list[str]]] = []
        while len(out) < count:
            if self.random.random() < 0.6:
                slot = self.random.randrange(len(self.conferences))
                if self.conferences[slot] is None:
                    out += self._create(slot)
                else:
                    out += self._conference_step(slot)
            else:
                out += self._queue_step()
        return out


# -- posting ------------------------------------------------------------------------------------


def sign_all(bodies: list[dict], seed_b64: str) -> list[tuple[bytes, dict]]:
    """Encode and sign each body as Telnyx would (compact JSON, Ed25519 over timestamp|body)."""
    key = load_signing_key(seed_b64)
    signed = []
    for document in bodies:
        raw = json.dumps(document, separators=(",", ":")).encode()
        signed.append((raw, {"Content-Type": "application/json", **sign(raw, key)}))
    return signed


def seed_store(database: str, pairs: list[tuple[dict, list[str]]], batch: int = 1000) -> int:
    """Apply the bodies' events straight to the store in `database` (no HTTP); return how many."""
    store = Store(database)
    try:
        store.migrate()
        events = [parse_event(body) for body, _ in pairs]
        for start in range(0, len(events), batch):
            store.apply_many(events[start:start + batch])
    finally:
        store.close()
    return len(events)


def event_id(body: dict) -> str:
    """The event id in a webhook body (conference.floor.changed comes without the `data` envelope)."""
    return (body.get("data") or body)["id"]


def _webhook_requests(traffic: Traffic, pairs: list[tuple[dict, list[str]]], seed_b64: str):
    signed = sign_all([body for body, _ in pairs], seed_b64)
    return [("POST", "/webhooks/telnyx", raw, headers) for raw, headers in signed]


def run_poster(connection, port: int, seed_b64: str, *, conferences: int, queues: int, seed: int) -> None:
    """Poster process: generate, sign and post what the parent asks for over `connection`, report back."""
    traffic = Traffic(conferences=conferences, queues=queues, seed=seed)
    while True:
        request = connection.recv()
        command = request[0]
        if command == "stop":
            connection.send("stopped")
            return
        if command == "seed":
            _, database, participants = request
            connection.send(seed_store(database, traffic.opening(participants)))
            continue
        if command == "baseline":
            _, duration, threads = request
            plan = [("GET", "/healthz", None, {})] * 2_000_000
            result = hammer(port, plan, rate=None, threads=threads, duration=duration)
            connection.send(_summary(result))
            continue
        with_ids = False
        if command == "opening":
            pairs = traffic.opening()
            rate, duration, threads = None, 600.0, request[1]
        else:
            _, rate, duration, threads, budget, *rest = request
            with_ids = bool(rest and rest[0])
            pairs = traffic.events(budget if rate is None else int(rate * duration))
        result = hammer(port, _webhook_requests(traffic, pairs, seed_b64), rate=rate, threads=threads,
                        duration=duration)
        sent_at = result["sent_at"]
        if with_ids:
            result["accepted_ids"] = [event_id(pairs[i][0]) for i in result["accepted"]]
        result["markers"] = [(sent_at[i], pairs[i][1]) for i in sorted(sent_at) if pairs[i][1]]
        connection.send(_summary(result))


def _summary(result: dict) -> dict:
    """What the parent needs of a hammer result: counts and acknowledgement times, not every index."""
    acks = result.pop("acks")
    result["sent"] = len(result.pop("sent_at"))
    result.pop("accepted")
    result["ack_p50_ms"], result["ack_p99_ms"] = ms(percentile(acks, 0.50)), ms(percentile(acks, 0.99))
    result["ack_max_ms"] = ms(max(acks, default=None))
    return result
