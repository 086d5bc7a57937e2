"""Commands under 429, 500, timeouts and lost answers: retried with one command_id, done exactly once.

The simulator's "timeout" fault holds a request and then answers 503 without running it. The case
where Telnyx ran the command but its answer never arrived is made one layer down instead: a
transport adapter lets the request reach the simulator, which executes it, then throws the answer
away and reports a read timeout, exactly what the client sees when a network drops a response.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from console.simulator import WorldError
from console.telnyx.client import TelnyxClient
from console.telnyx.errors import APITimeoutError, InternalServerError, RateLimitError
from console.web.views.feedback import note_retry
from tests.live_servers import (  # noqa: F401
    LiveConsole,
    console_config,
    quiet_console,
    simulator,
    simulator_clock,
)
from tests.signing_in import csrf_client
from tests.sim_fixtures import EventLog, answered_call
from tests.waiting import wait_for

CLIENT_TIMEOUT = 1.0


class AnswerLosingAdapter(HTTPAdapter):
    """Delivers each request, and for the next `lose` POSTs discards the answer as a read timeout."""

    def __init__(self):
        super().__init__()
        self.lose = 0

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if self.lose and request.method == "POST":
            self.lose -= 1
            response.close()
            raise requests.ReadTimeout("the answer was lost on the way back", request=request)
        return response


class RecordingSession(requests.Session):
    """Remembers every request's method, path and JSON body."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict | None]] = []
        self.losing = AnswerLosingAdapter()
        self.mount("http://", self.losing)

    def request(self, method, url, *args, **kwargs):
        self.sent.append((method, url.split("/v2", 1)[-1], kwargs.get("json")))
        return super().request(method, url, *args, **kwargs)


@dataclass
class Line:
    """The simulator, a client against it that records requests and waits, and the world's webhooks."""

    sim: Any
    session: RecordingSession = field(default_factory=RecordingSession)
    waits: list[float] = field(default_factory=list)
    events: EventLog = field(default_factory=EventLog)

    def __post_init__(self):
        self.world = self.sim.world
        self.world.subscribe(self.events)
        self.client = TelnyxClient(self.sim.api_key, self.sim.base_url, session=self.session,
                                   timeout=CLIENT_TIMEOUT, sleep=self.waits.append)

    def inject(self, fault: str, count: int) -> None:
        """The next `count` requests suffer `fault`; "lost answer" runs the command and loses the reply."""
        if fault == "lost answer":
            self.session.losing.lose = count
        else:
            self.sim.chaos.fail_next(fault, count)

    def count(self, event_type: str, **matching) -> int:
        return sum(1 for payload in self.events.payloads(event_type)
                   if all(payload.get(k) == v for k, v in matching.items()))


@pytest.fixture
def line(simulator):  # noqa: F811
    simulator.chaos.update(timeout_seconds=3 * CLIENT_TIMEOUT)
    return Line(simulator)


# --- the commands: arrange, act, and the one effect that must happen exactly once ----------------------

def _floor(line: Line) -> dict:
    """A conference with a host and an agent, and a parked caller that is in nothing."""
    host, agent = answered_call(line.world, "+15550000001"), answered_call(line.world, "+15550000002")
    conference_id = line.world.create_conference(host, "floor")["id"]
    line.world.conference_action(conference_id, "join", {"call_control_id": agent})
    caller = answered_call(line.world, "+15550000003")
    return {"conference_id": conference_id, "host": host, "agent": agent, "caller": caller}


def _queued(line: Line) -> dict:
    ctx = _floor(line)
    line.world.enqueue(ctx["caller"], "support")
    return ctx


def role_of(world, conference_id: str, call_control_id: str) -> str:
    """A participant's supervisor role from the simulator's audio truth (REST never reports it)."""
    present = world.audio_paths(conference_id)["participants"]
    return next(p["supervisor_role"] for p in present if p["call_control_id"] == call_control_id)


def _role(line: Line, ctx: dict) -> int:
    return int(role_of(line.world, ctx["conference_id"], ctx["agent"]) == "monitor")


def _recordings_saved(line: Line, ctx: dict) -> int:
    """Stop whatever is recording and count the files saved: two starts would save two."""
    try:
        line.world.conference_action(ctx["conference_id"], "record_stop", {})
    except WorldError as error:
        assert error.status == 404, error.body()
    return line.count("conference.recording.saved", conference_id=ctx["conference_id"])


@dataclass(frozen=True)
class Command:
    arrange: Callable[[Line], dict]
    act: Callable[[TelnyxClient, dict], Any]
    effects: Callable[[Line, dict], int]


COMMANDS = {
    "join": Command(_floor, lambda c, x: c.join(x["conference_id"], x["caller"], supervisor_role="monitor"),
                    lambda line, x: line.count("conference.participant.joined", call_control_id=x["caller"])),
    "leave": Command(_floor, lambda c, x: c.leave(x["conference_id"], x["agent"]),
                     lambda line, x: line.count("conference.participant.left", call_control_id=x["agent"])),
    "update": Command(_floor, lambda c, x: c.update(x["conference_id"], x["agent"], "monitor"), _role),
    "record_start": Command(_floor, lambda c, x: c.record_start(x["conference_id"], "wav"), _recordings_saved),
    "end_conference": Command(_floor, lambda c, x: c.end_conference(x["conference_id"]),
                              lambda line, x: line.count("conference.ended", conference_id=x["conference_id"])),
    "create_conference": Command(_floor, lambda c, x: c.create_conference(x["caller"], "overflow"),
                                 lambda line, x: line.count("conference.created", call_control_id=x["caller"])),
    "enqueue": Command(_floor, lambda c, x: c.enqueue(x["caller"], "support"),
                       lambda line, x: line.count("call.enqueued", call_control_id=x["caller"])),
    "leave_queue": Command(_queued, lambda c, x: c.leave_queue(x["caller"]),
                           lambda line, x: line.count("call.dequeued", call_control_id=x["caller"])),
    "dial": Command(_floor, lambda c, x: c.dial(x["connection_id"], "+15557770000", "+15550000009"),
                    lambda line, x: line.count("call.initiated", to="+15557770000")),
    "hangup": Command(_floor, lambda c, x: c.hangup(x["caller"]),
                      lambda line, x: line.count("call.hangup", call_control_id=x["caller"])),
}
FAULTS = {"429": 2, "500": 2, "timeout": 1, "lost answer": 2}


def _arrange(line: Line, command: Command) -> dict:
    ctx = command.arrange(line) | {"connection_id": line.world.connection_id}
    line.session.sent.clear()
    line.events.clear()
    return ctx


def _command_ids(line: Line) -> list[str | None]:
    return [(body or {}).get("command_id") for method, _, body in line.session.sent if method == "POST"]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("name", COMMANDS, ids=str)
def test_command_survives_fault_with_one_command_id_and_one_effect(line, name, fault):
    command = COMMANDS[name]
    ctx = _arrange(line, command)
    line.inject(fault, FAULTS[fault])

    command.act(line.client, ctx)

    attempts = _command_ids(line)
    assert len(attempts) == FAULTS[fault] + 1
    assert attempts[0] and len(set(attempts)) == 1, f"retries changed the command_id: {attempts}"
    assert command.effects(line, ctx) == 1
    if fault == "429":
        assert line.waits == [1.0] * FAULTS[fault], "retries waited for the server's Retry-After"


def test_a_lost_answer_to_a_dial_still_hands_back_the_one_new_call(line):
    ctx = _arrange(line, COMMANDS["dial"])
    line.inject("lost answer", 1)
    call = line.client.dial(ctx["connection_id"], "+15557770000", "+15550000009")
    initiated = line.events.payloads("call.initiated")
    assert [p["call_control_id"] for p in initiated] == [call["call_control_id"]]


EXHAUSTED = {"429": RateLimitError, "500": InternalServerError, "timeout": APITimeoutError}


@pytest.mark.parametrize("fault", EXHAUSTED, ids=str)
@pytest.mark.parametrize("name", ["join", "record_start", "enqueue", "hangup"], ids=str)
def test_when_retries_run_out_a_typed_error_and_nothing_happened(line, name, fault):
    command = COMMANDS[name]
    ctx = _arrange(line, command)
    line.inject(fault, line.client.max_retries + 1)

    with pytest.raises(EXHAUSTED[fault]):
        command.act(line.client, ctx)

    assert len(_command_ids(line)) == line.client.max_retries + 1
    assert line.events.bodies == [], "a refused command changed the world"
    if name == "record_start":
        assert _recordings_saved(line, ctx) == 0


def test_when_every_answer_is_lost_the_error_says_so_and_the_command_ran_once(line):
    ctx = _arrange(line, COMMANDS["enqueue"])
    line.inject("lost answer", line.client.max_retries + 1)
    with pytest.raises(APITimeoutError) as raised:
        line.client.enqueue(ctx["caller"], "support")
    assert "in time" in str(raised.value)
    assert line.count("call.enqueued", call_control_id=ctx["caller"]) == 1


def test_a_command_without_command_id_is_never_repeated(line):
    ctx = _arrange(line, COMMANDS["join"])
    line.inject("lost answer", 1)
    with pytest.raises(APITimeoutError):
        line.client.mute(ctx["conference_id"], call_control_ids=[ctx["agent"]])
    assert len(line.session.sent) == 1, "mute has no command_id, so a retry could run it twice"


# --- through the console: a refused command leaves no half-changed state --------------------------------

@pytest.fixture
def desk(quiet_console, simulator):  # noqa: F811
    waits: list[float] = []
    quiet_console.app.extensions["console.telnyx"] = TelnyxClient(
        simulator.api_key, simulator.base_url, on_retry=note_retry, sleep=waits.append, timeout=CLIENT_TIMEOUT)
    return quiet_console


def _console_floor(desk, simulator) -> dict:  # noqa: F811
    ctx = _floor(Line(simulator))
    store = desk.app.extensions["console.store"]
    wait_for(lambda: len(store.participants(ctx["conference_id"])) == 2, message="webhooks never arrived")
    assert simulator.delivery.wait_idle(5)
    return ctx


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("500", 502), ("timeout", 504)])
@pytest.mark.parametrize("control", ["role", "recording"])
def test_console_control_refused_after_retries_changes_nothing(desk, simulator, control, fault, status):  # noqa: F811
    ctx = _console_floor(desk, simulator)
    conference_id, agent = ctx["conference_id"], ctx["agent"]
    store = desk.app.extensions["console.store"]
    path, form = {
        "role": (f"/conferences/{conference_id}/participants/{agent}/role", {"supervisor_role": "monitor"}),
        "recording": (f"/conferences/{conference_id}/recording/start", {"format": "wav"}),
    }[control]
    events_before, state_before = store.event_count(), store.state()
    simulator.chaos.update(timeout_seconds=3 * CLIENT_TIMEOUT)
    simulator.chaos.fail_next(fault, 3)

    refused = csrf_client(desk.app).post(path, data=form, headers={"HX-Request": "true"})

    assert refused.status_code == status
    assert "Telnyx" in html.unescape(refused.get_data(as_text=True))
    assert store.event_count() == events_before and store.state() == state_before
    assert role_of(simulator.world, conference_id, agent) == "none"

    accepted = csrf_client(desk.app).post(path, data=form, headers={"HX-Request": "true"})
    assert accepted.status_code == 200
    assert store.event_count() == events_before + 1, "the accepted command recorded exactly one console event"
