"""The supervisor line and the supervisor modes, through the console's routes against a live simulator."""

from __future__ import annotations

import html
import json
import re

import pytest

from console.state import agents as agent_rows
from console.supervision.audio_paths import audio_paths
from console.supervision.line import reaches_more
from console.telnyx.errors import APITimeoutError
from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.sim_fixtures import answered_call
from tests.waiting import wait_for

SUPERVISOR_PHONE = "+13125550142"
CALLER_ID = "+13125550100"
SUPPORT_LINE = "+18005550100"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def console_overrides():
    """Demo mode signs every request in (as the demo admin); the caller id lets the console dial."""
    return {"TELNYX_CALLER_ID": CALLER_ID, "CONSOLE_SUPERVISOR_PHONE": SUPERVISOR_PHONE, "CONSOLE_DEMO": True,
            "CONSOLE_TELNYX_TIMEOUT": 1.0, "CONSOLE_RECONCILE_INTERVAL": 3600.0}


@pytest.fixture
def world(simulator):
    simulator.world.dial_answer_delay = 0.1
    return simulator.world


@pytest.fixture
def store(console_app):
    return console_app.extensions["console.store"]


def signed_in_client(app):
    """A browser-like client: it keeps the session cookie and sends the page's CSRF token on every post."""
    client = app.test_client()
    page = client.get("/supervisor").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token:
        client.environ_base["HTTP_X_CSRF_TOKEN"] = html.unescape(token.group(1))
    return client


@pytest.fixture
def client(console_app):
    return signed_in_client(console_app)


@pytest.fixture
def room(world, store):
    """A customer and an agent talking in a conference the console has seen."""
    agent_rows.save_agent(store, "Alice", "", ["+15550000002"])  # the directory says who is the agent
    customer = answered_call(world, "+15550000001", SUPPORT_LINE, "Customer Carol")
    conference_id = world.create_conference(customer, "support-1")["id"]
    agent = answered_call(world, "+15550000002", SUPPORT_LINE, "Agent Alice")
    world.conference_action(conference_id, "join", {"call_control_id": agent})
    wait_for(lambda: len(store.participants(conference_id)) == 2, message="the console never saw the conference")
    return conference_id, customer, agent


def line(store) -> dict:
    return store.supervisor("demo") or {}


def connect(client, store) -> str:
    """Connect the demo supervisor's line and wait until the simulator has answered it."""
    response = client.post("/supervisor/line/connect", headers=HTMX)
    assert response.status_code == 200, response.text
    wait_for(lambda: line(store).get("line_state") == "answered", message="the line was never answered")
    return line(store)["line_call_control_id"]


def mode(client, conference_id: str, name: str, **form):
    return client.post(f"/conferences/{conference_id}/supervision/{name}", data=form, headers=HTMX)


def present(store, conference_id: str) -> dict:
    return {p["call_control_id"]: p for p in store.participants(conference_id)}


def truth(world, conference_id: str) -> dict:
    return world.audio_paths(conference_id)


def console_hears(store, conference_id: str) -> dict:
    return audio_paths(store.participants(conference_id)).hears


def settled(world, store, conference_id: str) -> dict:
    """Wait until the console's computed paths equal the simulator's, then return them."""
    wait_for(lambda: console_hears(store, conference_id) == truth(world, conference_id)["hears"],
             message="the console's audio paths never matched the simulator's")
    return truth(world, conference_id)["hears"]


def role_in_world(world, conference_id: str, call_control_id: str) -> str | None:
    for participant in truth(world, conference_id)["participants"]:
        if participant["call_control_id"] == call_control_id:
            return participant["supervisor_role"]
    return None


# --- the line ---------------------------------------------------------------------------------


def test_connect_dials_the_supervisor_phone_from_the_console_caller_id(client, store, world):
    line_id = connect(client, store)
    assert world.retrieve_call(line_id)["is_alive"]
    reported = store.call(line_id)
    assert (reported["to_number"], reported["from_number"], reported["direction"]) == (SUPERVISOR_PHONE, CALLER_ID,
                                                                                      "outgoing")
    assert line(store)["line_source"] == "dialled"
    page = client.get("/supervisor").text
    assert "Your line is connected" in page and "not in a conference yet" in page


def test_the_line_is_followed_from_calling_to_hung_up(client, store, world):
    world.dial_answer_delay = 1.0
    response = client.post("/supervisor/line/connect", data={"phone": "+1 312 555 0177"}, headers=HTMX)
    assert "Calling +13125550177" in response.text
    assert line(store)["phone"] == "+13125550177"
    wait_for(lambda: line(store).get("line_state") == "answered")
    assert "Your line is connected" in client.get("/supervisor/line").text
    response = client.post("/supervisor/line/hangup", headers=HTMX)
    assert response.status_code == 200
    wait_for(lambda: line(store).get("line_state") == "hangup")
    assert "Your line has hung up" in client.get("/supervisor/line").text
    assert not world.retrieve_call(line(store)["line_call_control_id"])["is_alive"]


def test_a_line_that_is_ringing_cannot_be_dialled_twice(client, store, world):
    world.dial_answer_delay = 30.0
    assert client.post("/supervisor/line/connect", headers=HTMX).status_code == 200
    again = client.post("/supervisor/line/connect", headers=HTMX)
    assert again.status_code == 409 and "already calling your phone" in again.text
    assert len(world.snapshot()["calls"]) == 1, "one call to the supervisor, not two"


@pytest.mark.parametrize("phone", ["12345", "call me", "+0123456789"])
def test_a_phone_that_cannot_be_dialled_is_refused_before_telnyx(client, store, world, phone):
    response = client.post("/supervisor/line/connect", data={"phone": phone}, headers=HTMX)
    assert response.status_code == 422 and "international form" in response.text
    assert world.snapshot()["calls"] == {}


def test_a_sip_address_is_saved_in_the_profile(client, store):
    response = client.post("/supervisor/phone", data={"phone": "sip:boss@pbx.example.com"})
    assert response.status_code == 303
    assert line(store)["phone"] == "sip:boss@pbx.example.com"
    assert 'value="sip:boss@pbx.example.com"' in client.get("/supervisor").text


def test_an_admin_attaches_a_parked_call_as_the_line(client, store, world, room):
    conference_id, _customer, _agent = room
    parked = answered_call(world, "+15550000009", SUPPORT_LINE, "Desk phone")
    response = client.post("/supervisor/line/attach", data={"call_control_id": parked}, headers=HTMX)
    assert response.status_code == 200, response.text
    assert line(store)["line_source"] == "attached"
    # Until call.answered reaches the console the line reads as still ringing; wait for it.
    wait_for(lambda: (store.call(parked) or {}).get("state") == "answered", message="call.answered never arrived")
    assert mode(client, conference_id, "monitor").status_code == 200
    assert role_in_world(world, conference_id, parked) == "monitor"


def test_a_hung_up_call_cannot_be_attached(client, world):
    gone = answered_call(world, "+15550000009", SUPPORT_LINE, "Desk phone")
    world.remote_hangup(gone)
    response = client.post("/supervisor/line/attach", data={"call_control_id": gone}, headers=HTMX)
    assert response.status_code == 409 and "already ended" in response.text


def words(page: str) -> str:
    """A page's text as a reader sees it: tags dropped, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- the modes --------------------------------------------------------------------------------


def test_monitor_whisper_barge_monitor_leave(client, store, world, room):
    conference_id, customer, agent = room
    me = connect(client, store)

    response = mode(client, conference_id, "monitor")
    assert response.status_code == 200 and "Joining as a monitor" in response.text
    hears = settled(world, store, conference_id)
    assert role_in_world(world, conference_id, me) == "monitor"
    assert present(store, conference_id)[me]["supervisor_role"] == "monitor"
    assert me not in hears[customer] and me not in hears[agent]
    assert set(hears[me]) == {customer, agent}
    assert "You are listening only: nobody hears you" in client.get(f"/conferences/{conference_id}/supervision").text

    response = mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    assert response.status_code == 200 and "only Agent Alice can hear you" in response.text
    hears = settled(world, store, conference_id)
    assert role_in_world(world, conference_id, me) == "whisper"
    assert present(store, conference_id)[me]["whisper_call_control_ids"] == [agent]
    assert me in hears[agent] and me not in hears[customer]
    page = words(client.get(f"/conferences/{conference_id}").text)
    assert "Agent Alice (agent) hears you; Customer Carol (customer) does not" in page

    asking = mode(client, conference_id, "barge")
    assert "Barge in?" in asking.text and "data-confirming" in asking.text
    assert role_in_world(world, conference_id, me) == "whisper", "asking must not barge"
    response = mode(client, conference_id, "barge", step="confirm")
    assert response.status_code == 200 and "everyone in the conference can hear you" in response.text
    hears = settled(world, store, conference_id)
    assert role_in_world(world, conference_id, me) == "barge"
    assert me in hears[agent] and me in hears[customer]
    panel = words(client.get(f"/conferences/{conference_id}/supervision").text)
    assert "Everyone hears you: Agent Alice (agent) and Customer Carol (customer)" in panel

    response = mode(client, conference_id, "monitor")
    assert "Back to monitor" in response.text
    hears = settled(world, store, conference_id)
    assert role_in_world(world, conference_id, me) == "monitor"
    assert me not in hears[agent] and me not in hears[customer]

    response = mode(client, conference_id, "leave")
    assert response.status_code == 200
    wait_for(lambda: me not in present(store, conference_id))
    assert me not in truth(world, conference_id)["hears"]
    assert world.retrieve_call(me)["is_alive"], "leaving keeps the line"
    assert line(store)["line_state"] == "answered"


def test_cancelling_the_barge_question_changes_nothing(client, store, world, room):
    conference_id, _customer, _agent = room
    me = connect(client, store)
    mode(client, conference_id, "monitor")
    settled(world, store, conference_id)
    response = mode(client, conference_id, "barge", step="cancel")
    assert "you did not barge in" in response.text
    assert role_in_world(world, conference_id, me) == "monitor"
    assert present(store, conference_id)[me]["supervisor_role"] == "monitor"


def test_whisper_before_monitor_joins_as_monitor_first_on_the_same_leg(client, store, world, room):
    conference_id, _customer, agent = room
    me = connect(client, store)
    response = mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    assert response.status_code == 200
    settled(world, store, conference_id)
    assert role_in_world(world, conference_id, me) == "whisper"
    legs = [p["call_control_id"] for p in truth(world, conference_id)["participants"]]
    assert legs.count(me) == 1


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_a_failed_whisper_keeps_the_recorded_role(client, store, world, simulator, console_app, room, fault):
    conference_id, _customer, agent = room
    me = connect(client, store)
    mode(client, conference_id, "monitor")
    settled(world, store, conference_id)
    console_app.extensions["console.reconciler"].stop()  # its requests would take the faults meant for ours
    simulator.chaos.update(timeout_seconds=2)
    simulator.chaos.fail_next(fault, count=3)
    response = mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    assert response.status_code >= 400
    assert "Telnyx" in response.text
    if fault != "429":  # Telnyx may have done it: the console puts the leg back and says so
        assert "set you back to monitor" in response.text
    assert role_in_world(world, conference_id, me) == "monitor"
    assert present(store, conference_id)[me]["supervisor_role"] == "monitor"
    hears = settled(world, store, conference_id)
    assert me not in hears[agent]


def test_a_whisper_telnyx_did_but_never_confirmed_is_undone(client, store, world, console_app, room,
                                                            monkeypatch):
    conference_id, _customer, agent = room
    me = connect(client, store)
    mode(client, conference_id, "monitor")
    settled(world, store, conference_id)
    telnyx = console_app.extensions["console.telnyx"]
    real_update = telnyx.update
    lost = []

    def update_then_lose_the_answer(*args, **kwargs):
        answer = real_update(*args, **kwargs)
        if not lost:
            lost.append(args)
            raise APITimeoutError("the answer never came back")
        return answer

    monkeypatch.setattr(telnyx, "update", update_then_lose_the_answer)
    response = mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    assert response.status_code == 502 and "set you back to monitor" in response.text
    assert lost, "the whisper reached Telnyx"
    assert role_in_world(world, conference_id, me) == "monitor"
    assert present(store, conference_id)[me]["supervisor_role"] == "monitor"
    assert me not in settled(world, store, conference_id)[agent]


def test_whisper_needs_someone_ticked(client, store, world, room):
    conference_id, _customer, _agent = room
    connect(client, store)
    response = mode(client, conference_id, "whisper")
    assert response.status_code == 422 and "Tick who should hear your whisper" in response.text


def test_modes_need_a_connected_line(client, world, room):
    conference_id, _customer, _agent = room
    response = mode(client, conference_id, "monitor")
    assert response.status_code == 409 and "Connect your line first" in response.text
    assert len(truth(world, conference_id)["participants"]) == 2


def test_a_muted_whisperer_reaches_nobody_and_the_page_says_so(client, store, world, room):
    conference_id, _customer, agent = room
    me = connect(client, store)
    mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    settled(world, store, conference_id)
    muted = client.post(f"/conferences/{conference_id}/participants/{me}/mute", headers=HTMX)
    assert muted.status_code == 200
    hears = settled(world, store, conference_id)
    assert me not in hears[agent]
    assert "You are muted: nobody hears you" in client.get(f"/conferences/{conference_id}/supervision").text


def test_every_later_page_load_shows_the_recorded_role(client, store, world, room):
    conference_id, customer, agent = room
    me = connect(client, store)
    mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    settled(world, store, conference_id)
    page = client.get(f"/conferences/{conference_id}").text
    assert "Supervisor · whisper" in page and "Heard only by: Agent Alice" in page
    drawn = json.loads(html.unescape(re.search(r"data-audio-map\s+data-hears='([^']*)'", page).group(1)))
    assert drawn == truth(world, conference_id)["hears"]
    assert me in drawn[agent] and me not in drawn[customer]


def test_an_ended_conference_refuses_every_mode_and_its_box_offers_none(client, store, world, room):
    conference_id, _customer, agent = room
    connect(client, store)
    world.conference_action(conference_id, "end", {})
    wait_for(lambda: (store.conference(conference_id) or {}).get("status") == "completed", message="never ended")
    for name in ("monitor", "whisper", "barge"):
        response = mode(client, conference_id, name, step="confirm", whisper_call_control_ids=agent)
        assert response.status_code == 409, (name, response.status_code)
        assert "This conference has ended: there is nobody left to listen to." in words(response.text)
    me = line(store)["line_call_control_id"]
    assert me not in {p["call_control_id"] for p in store.participants(conference_id, include_left=True)}, \
        "a refused step records nobody as joining"
    box = client.get(f"/conferences/{conference_id}/supervision").text
    assert "This conference has ended" in box
    assert "<button" not in box and "<input" not in box and "<form" not in box


def test_the_line_and_the_role_survive_a_console_restart(live_console, store, world, room):
    conference_id, _customer, agent = room
    client = signed_in_client(live_console.app)
    me = connect(client, store)
    mode(client, conference_id, "whisper", whisper_call_control_ids=agent)
    settled(world, store, conference_id)
    live_console.restart()
    client = signed_in_client(live_console.app)
    panel = client.get(f"/conferences/{conference_id}/supervision").text
    assert "Agent Alice (agent) hears you; Customer Carol (customer) does not" in words(panel)
    assert f'value="{agent}" checked' in panel
    assert live_console.app.extensions["console.store"].supervisor("demo")["line_call_control_id"] == me


def test_without_javascript_a_mode_redirects_back_to_the_conference(client, store, world, room):
    conference_id, _customer, _agent = room
    connect(client, store)
    response = client.post(f"/conferences/{conference_id}/supervision/monitor")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/conferences/{conference_id}")
    refused = client.post(f"/conferences/{conference_id}/supervision/whisper")
    assert refused.status_code == 422 and "<html" in refused.text and "Tick who should hear" in refused.text


@pytest.mark.parametrize("was, now, louder", [
    (("monitor", []), ("whisper", ["agent"]), True),
    (("monitor", []), ("barge", []), True),
    (("whisper", ["agent"]), ("whisper", ["agent", "customer"]), True),
    (("whisper", ["agent", "trainee"]), ("whisper", ["agent"]), False),
    (("whisper", ["agent"]), ("barge", []), True),
    (("barge", []), ("whisper", ["agent"]), False),
    (("none", []), ("barge", []), False),
    (("whisper", ["agent"]), ("monitor", []), False),
])
def test_which_role_changes_could_make_the_supervisor_heard_by_someone_new(was, now, louder):
    assert reaches_more(*was, *now) is louder


# --- whisper safety ----------------------------------------------------------------------------


def test_the_whisper_list_puts_the_agent_first_and_ticks_them(client, store, world, room):
    conference_id, customer, agent = room
    connect(client, store)
    box = client.get(f"/conferences/{conference_id}/supervision").text
    assert box.index(f'value="{agent}"') < box.index(f'value="{customer}"')
    assert re.search(rf'value="{re.escape(agent)}"\s+checked', box)
    assert not re.search(rf'value="{re.escape(customer)}"\s+checked', box)
    assert "Whisper to the customer: the customer will hear you" in box


def test_whispering_to_the_customer_needs_the_worded_confirmation(client, store, world, room):
    conference_id, customer, _agent = room
    me = connect(client, store)
    mode(client, conference_id, "monitor")
    settled(world, store, conference_id)
    refused = mode(client, conference_id, "whisper", whisper_call_control_ids=customer)
    assert refused.status_code == 422
    assert "the customer would hear your whisper" in refused.text
    assert role_in_world(world, conference_id, me) == "monitor"
    confirmed = mode(client, conference_id, "whisper", whisper_call_control_ids=customer, customer_confirmed="yes")
    assert confirmed.status_code == 200, confirmed.text
    hears = settled(world, store, conference_id)
    assert me in hears[customer]
