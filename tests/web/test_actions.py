"""Every control posts to a route that calls the right Telnyx endpoint and says what happened.

The console runs against the live simulator (its webhooks flow back into the console); requests
go through the Flask test client, and the Telnyx client records each request it sends, so a test
can check both the endpoint called and the change in the simulator's world.
"""

from __future__ import annotations

import html
import re
import threading

import pytest
import requests

from console.state.store import get_store
from console.telnyx.client import TelnyxClient
from console.web.views.feedback import note_retry
from tests.live_servers import *
from tests.signing_in import csrf_client
from tests.waiting import wait_for

HTMX = {"HX-Request": "true"}


class RecordingSession(requests.Session):
    """A requests session that remembers the Telnyx requests made from the test's own thread.

    The console's reconciler shares the client from its own thread; its reads are not the
    control's doing, so they are left out.
    """

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict | None]] = []
        self.thread = threading.get_ident()

    def request(self, method, url, *args, **kwargs):
        if threading.get_ident() == self.thread:
            path = "/" + url.split("/v2/", 1)[1] if "/v2/" in url else url
            self.sent.append((method, requests.utils.unquote(path), kwargs.get("json")))
        return super().request(method, url, *args, **kwargs)


class Room:
    """A console wired to the simulator, with a recording Telnyx client and helpers to stage calls."""

    def __init__(self, live_console, simulator):
        self.console = live_console
        self.app = live_console.app
        self.world = simulator.world
        self.simulator = simulator
        self.session = RecordingSession()
        self.waits: list[float] = []
        self.app.extensions["console.telnyx"] = TelnyxClient(
            simulator.api_key, simulator.base_url, session=self.session, on_retry=note_retry,
            sleep=self.waits.append)
        self.client = csrf_client(self.app)

    def post(self, path: str, data=None, *, htmx: bool = True, target: str | None = None):
        headers = dict(HTMX) if htmx else {}
        if target:
            headers["HX-Target"] = target
        self.session.sent.clear()
        return self.client.post(path, data=data or {}, headers=headers)

    def sent(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.session.sent]

    def body_sent(self) -> dict:
        return self.session.sent[-1][2] or {}

    def store(self, query, *args):
        with self.app.app_context():
            return getattr(get_store(), query)(*args)

    def answered(self, number: str) -> str:
        call = self.world.incoming_call(number, "+15557770000")
        self.world.answer_call(call["call_control_id"])
        ccid = call["call_control_id"]
        wait_for(lambda: (self.store("call", ccid) or {}).get("state") == "answered", message=f"{ccid} answered")
        return ccid

    def conference(self, size: int = 2, name: str = "Escalations") -> tuple[str, list[str]]:
        legs = [self.answered(f"+1555000{index:04d}") for index in range(size)]
        conference_id = self.world.create_conference(legs[0], name)["id"]
        for leg in legs[1:]:
            self.world.conference_action(conference_id, "join", {"call_control_id": leg})
        wait_for(lambda: len(self.store("participants", conference_id)) == size, message="participants known")
        return conference_id, legs

    def queue(self, name: str = "support", max_size: int = 5, callers: int = 1) -> tuple[str, list[str]]:
        self.world.create_queue(name, max_size=max_size)
        legs = [self.answered(f"+1555100{index:04d}") for index in range(callers)]
        for leg in legs:
            self.world.enqueue(leg, name)
        wait_for(lambda: len(self.store("queue_calls", name)) == callers, message="queued calls known")
        return name, legs

    def everyone_muted(self, conference_id: str) -> bool:
        return all(p["muted"] for p in self.world.snapshot()["participants"][conference_id].values())

    def participant(self, conference_id: str, call_control_id: str) -> dict:
        return self.world.snapshot()["participants"][conference_id][call_control_id]


@pytest.fixture
def room(quiet_console, simulator):
    """A console without the reconciler, so only the control under test talks to Telnyx."""
    return Room(quiet_console, simulator)


# --- each route calls its endpoint and changes the world ---------------------------------------


def everyone(room, conference_id, field):
    return [p[field] for p in room.world.snapshot()["participants"][conference_id].values()]


@pytest.mark.parametrize(
    "route, data, action, field, expected",
    [
        ("mute", {"target": "all"}, "mute", "muted", [True, True, True]),
        ("hold", {"target": "all", "audio_url": "https://example.com/hold.mp3"}, "hold", "on_hold", [True, True, True]),
    ],
)
def test_everyone_controls_reach_every_participant(room, route, data, action, field, expected):
    conference_id, _ = room.conference(size=3)
    response = room.post(f"/conferences/{conference_id}/{route}", data)
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/{action}")]
    assert "call_control_ids" not in room.body_sent()
    assert everyone(room, conference_id, field) == expected
    assert "everyone" in response.text


@pytest.mark.parametrize("route, field", [("mute", "muted"), ("hold", "on_hold")])
def test_selected_controls_reach_only_the_ticked_participants(room, route, field):
    conference_id, legs = room.conference(size=3)
    response = room.post(f"/conferences/{conference_id}/{route}",
                         {"target": "selected", "call_control_ids": [legs[1]]})
    assert response.status_code == 200, response.text
    assert room.body_sent()["call_control_ids"] == [legs[1]]
    assert [room.participant(conference_id, leg)[field] for leg in legs] == [False, True, False]
    assert "the selected participants" in response.text


@pytest.mark.parametrize("route, undo, field", [("mute", "unmute", "muted"), ("hold", "unhold", "on_hold")])
def test_undo_controls_and_the_read_model_follow_without_a_webhook(room, route, undo, field):
    conference_id, legs = room.conference(size=2)
    room.post(f"/conferences/{conference_id}/{route}", {"target": "all"})
    stored = {p["call_control_id"]: p[field] for p in room.store("participants", conference_id)}
    assert stored == {legs[0]: True, legs[1]: True}
    response = room.post(f"/conferences/{conference_id}/{undo}", {"target": "all"})
    assert response.status_code == 200, response.text
    assert room.sent()[0] == ("POST", f"/conferences/{conference_id}/actions/{undo}")
    assert everyone(room, conference_id, field) == [False, False]
    assert all(not p[field] for p in room.store("participants", conference_id))


@pytest.mark.parametrize("action, field, before, after", [
    ("mute", "muted", False, True), ("hold", "on_hold", False, True),
])
def test_one_participant_buttons_toggle_and_render_the_opposite(room, action, field, before, after):
    conference_id, legs = room.conference(size=2)
    assert room.participant(conference_id, legs[1])[field] is before
    response = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/{action}")
    assert response.status_code == 200, response.text
    assert room.body_sent()["call_control_ids"] == [legs[1]]
    assert room.participant(conference_id, legs[1])[field] is after
    assert room.participant(conference_id, legs[0])[field] is before
    opposite = {"mute": ">Unmute<", "hold": ">Unhold<"}[action]
    assert opposite in response.text


def test_remove_asks_first_and_says_the_call_stays_parked(room):
    conference_id, legs = room.conference(size=2)
    response = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/leave")
    assert response.status_code == 200, response.text
    assert room.sent() == []
    assert "is not hung up" in response.text and "parked" in response.text
    assert 'value="confirm"' in response.text
    cancelled = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/leave", {"step": "cancel"})
    assert "Cancelled" in cancelled.text and room.sent() == []
    assert room.participant(conference_id, legs[1])["status"] != "left"


def test_send_to_is_not_preselected_and_must_be_chosen(room):
    conference_id, legs = room.conference(size=2)
    page = room.client.get(f"/conferences/{conference_id}").text
    assert "Send to" in page
    assert not re.search(r'name="target" value="all" checked', page)
    response = room.post(f"/conferences/{conference_id}/mute", {})
    assert response.status_code == 422, response.text
    assert "Choose who this goes to" in response.text
    assert room.sent() == []
    assert all(not room.participant(conference_id, leg)["muted"] for leg in legs)


def test_remove_from_conference_leaves_the_call_parked(room):
    conference_id, legs = room.conference(size=2)
    response = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/leave", {"step": "confirm"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/leave")]
    assert room.participant(conference_id, legs[1])["status"] == "left"
    assert room.world.snapshot()["calls"][legs[1]]["is_alive"] is True


def test_play_and_stop_audio(room):
    conference_id, _ = room.conference()
    response = room.post(f"/conferences/{conference_id}/play",
                         {"audio_url": "https://example.com/notice.wav", "loop": "infinity", "target": "all"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/play")]
    assert room.body_sent()["loop"] == "infinity"
    wait_for(lambda: room.store("conference", conference_id)["playing"], message="playback.started stored")
    response = room.post(f"/conferences/{conference_id}/stop", {"target": "all"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/stop")]
    wait_for(lambda: not room.store("conference", conference_id)["playing"], message="playback.ended stored")


def test_speak_sends_text_voice_and_language(room):
    conference_id, _ = room.conference()
    response = room.post(f"/conferences/{conference_id}/speak", {
        "payload": "Please hold, a supervisor is joining.", "voice": "female", "language": "en-GB",
        "payload_type": "text", "target": "all"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/speak")]
    assert room.body_sent()["language"] == "en-GB"
    wait_for(lambda: room.store("conference", conference_id)["speaking"], message="speak.started stored")


def test_send_dtmf_to_selected_participants(room):
    conference_id, legs = room.conference()
    response = room.post(f"/conferences/{conference_id}/dtmf", {
        "digits": "12w#", "duration_millis": "300", "target": "selected", "call_control_ids": legs[0]})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/send_dtmf")]
    assert room.body_sent() == {"digits": "12w#", "duration_millis": 300, "call_control_ids": [legs[0]]}
    assert "Sent 12w#" in response.text


def test_gather_collects_digits_onto_the_call(room):
    conference_id, legs = room.conference()
    response = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/gather",
                         {"audio_url": "https://example.com/prompt.wav", "minimum_digits": "1",
                          "maximum_digits": "4", "terminating_digit": "#", "timeout_millis": "60000"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/gather_using_audio")]
    room.world.press_digits(legs[1], "42#")
    wait_for(lambda: (room.store("call", legs[1]) or {}).get("gather_digits") == "42", message="gather stored")


@pytest.mark.parametrize("step, endpoint, state", [
    ("start", "record_start", "recording"), ("pause", "record_pause", "paused"),
    ("resume", "record_resume", "recording"), ("stop", "record_stop", None),
])
def test_recording_steps(room, step, endpoint, state):
    conference_id, _ = room.conference()
    if step != "start":
        room.world.conference_action(conference_id, "record_start", {"format": "wav"})
    if step == "resume":
        room.world.conference_action(conference_id, "record_pause", {})
    response = room.post(f"/conferences/{conference_id}/recording/{step}",
                         {"format": "mp3", "channels": "dual", "play_beep": "true"} if step == "start" else {})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/{endpoint}")]
    assert room.store("conference", conference_id)["recording_state"] == state
    if step == "stop":
        wait_for(lambda: room.store("recordings", conference_id), message="recording.saved stored")


def test_join_a_parked_call_as_a_whispering_supervisor(room):
    conference_id, legs = room.conference()
    supervisor = room.answered("+15559990001")
    response = room.post(f"/conferences/{conference_id}/join", {
        "call_control_id": supervisor, "supervisor_role": "whisper", "whisper_call_control_ids": [legs[1]],
        "mute": "false"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/join")]
    joined = room.participant(conference_id, supervisor)
    assert joined["whisper_call_control_ids"] == [legs[1]]
    wait_for(lambda: any(p["call_control_id"] == supervisor and p["supervisor_role"] == "whisper"
                         for p in room.store("participants", conference_id)), message="role recorded")


def test_role_change_is_sent_and_recorded(room):
    conference_id, legs = room.conference(size=3)
    response = room.post(f"/conferences/{conference_id}/participants/{legs[2]}/role",
                         {"supervisor_role": "whisper", "whisper_call_control_ids": [legs[1]]})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/update")]
    assert room.participant(conference_id, legs[2])["whisper_call_control_ids"] == [legs[1]]
    stored = {p["call_control_id"]: p for p in room.store("participants", conference_id)}
    assert stored[legs[2]]["supervisor_role"] == "whisper"
    assert stored[legs[2]]["whisper_call_control_ids"] == [legs[1]]


def test_participant_settings_are_patched(room):
    conference_id, legs = room.conference()
    response = room.post(f"/conferences/{conference_id}/participants/{legs[1]}/settings", {
        "beep_enabled": "never", "end_conference_on_exit": ["false", "true"],
        "soft_end_conference_on_exit": "false"})
    assert response.status_code == 200, response.text
    method, path = room.sent()[-1]
    assert method == "PATCH" and path.startswith(f"/conferences/{conference_id}/participants/")
    assert room.participant(conference_id, legs[1])["end_conference_on_exit"] is True
    stored = {p["call_control_id"]: p for p in room.store("participants", conference_id)}
    assert stored[legs[1]]["end_conference_on_exit"] is True


def test_more_controls_load_on_demand_and_list_who_is_there_now(room):
    conference_id, legs = room.conference(size=2)
    with room.app.test_request_context():
        page = room.client.get(f"/conferences/{conference_id}").text
    card_html = page.split(f'id="participant__{conference_id}__', 1)[1]
    assert "role-control" not in page and "gather-control" not in page  # not pushed with every card
    assert f"/conferences/{conference_id}/participants/{legs[1]}/more" in card_html
    latecomer = room.answered("+15550009999")
    room.world.conference_action(conference_id, "join", {"call_control_id": latecomer})
    wait_for(lambda: len(room.store("participants", conference_id)) == 3, message="latecomer known")
    response = room.client.get(f"/conferences/{conference_id}/participants/{legs[1]}/more", headers=HTMX)
    assert response.status_code == 200, response.text
    for control in ("gather-control", "role-control", "settings-control"):
        assert f'id="{control}__{conference_id}__' in response.text
    whisper_targets = set(re.findall(r'name="whisper_call_control_ids" value="([^"]+)"', response.text))
    assert whisper_targets == {legs[0], latecomer}
    assert "<html" not in response.text
    plain = room.client.get(f"/conferences/{conference_id}/participants/{legs[1]}/more")
    assert plain.status_code == 200 and "<html" in plain.text and "role-control" in plain.text


def test_end_asks_first_then_ends_or_cancels(room):
    conference_id, _ = room.conference()
    asked = room.post(f"/conferences/{conference_id}/end")
    assert asked.status_code == 200 and "Yes, end it" in asked.text
    cancelled = room.post(f"/conferences/{conference_id}/end", {"step": "cancel"})
    assert "nothing was changed" in cancelled.text
    assert room.sent() == []
    assert room.world.snapshot()["conferences"][conference_id]["status"] == "in_progress"
    ended = room.post(f"/conferences/{conference_id}/end", {"step": "confirm"})
    assert ended.status_code == 200, ended.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/end")]
    assert room.world.snapshot()["conferences"][conference_id]["status"] == "completed"


def test_start_a_conference_from_a_parked_call(room):
    caller = room.answered("+15550004444")
    response = room.post(f"/calls/{caller}/conference", {
        "name": "Billing dispute", "beep_enabled": "on_enter", "max_participants": "5",
        "duration_minutes": "30", "start_conference_on_create": ["false", "true"]})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", "/conferences")]
    conferences = room.world.snapshot()["conferences"].values()
    created = next(c for c in conferences if c["name"] == "Billing dispute")
    assert room.store("conference", created["id"])["name"] == "Billing dispute"


# --- queues -----------------------------------------------------------------------------------


def test_create_and_resize_a_queue(room):
    response = room.post("/queues", {"queue_name": "vip", "max_size": "3"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", "/queues")]
    assert room.world.snapshot()["queues"]["vip"]["max_size"] == 3
    assert room.store("queue", "vip")["max_size"] == 3
    response = room.post("/queues/vip/size", {"max_size": "12"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", "/queues/vip")]
    assert room.world.snapshot()["queues"]["vip"]["max_size"] == 12
    assert room.store("queue", "vip")["max_size"] == 12


def test_delete_queue_asks_first(room):
    room.world.create_queue("old")
    asked = room.post("/queues/old/delete")
    assert "Yes, delete it" in asked.text and room.sent() == []
    response = room.post("/queues/old/delete", {"step": "confirm"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("DELETE", "/queues/old")]
    assert "old" not in room.world.snapshot()["queues"]
    assert room.store("queue", "old") is None


def test_enqueue_a_parked_call_then_take_it_out(room):
    caller = room.answered("+15550005555")
    response = room.post(f"/calls/{caller}/enqueue", {"queue_name": "sales", "max_wait_time_secs": "600",
                                                      "keep_after_hangup": "false"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/calls/{caller}/actions/enqueue")]
    assert caller in room.world.snapshot()["queue_calls"]["sales"]
    wait_for(lambda: room.store("queue_calls", "sales"), message="call.enqueued stored")
    response = room.post(f"/calls/{caller}/leave-queue", {"queue_name": "sales"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("POST", f"/calls/{caller}/actions/leave_queue")]
    assert caller not in room.world.snapshot()["queue_calls"]["sales"]


def test_keep_after_hangup_keeps_the_place(room):
    name, legs = room.queue()
    response = room.post(f"/queues/{name}/calls/{legs[0]}/keep", {"keep_after_hangup": ["false", "true"]})
    assert response.status_code == 200, response.text
    assert room.sent() == [("PATCH", f"/queues/{name}/calls/{legs[0]}")]
    room.world.remote_hangup(legs[0])
    assert legs[0] in room.world.snapshot()["queue_calls"][name]


def test_force_remove_asks_first(room):
    name, legs = room.queue()
    asked = room.post(f"/queues/{name}/calls/{legs[0]}/remove", {"queue_name": name})
    assert "Yes, remove" in asked.text and room.sent() == []
    response = room.post(f"/queues/{name}/calls/{legs[0]}/remove", {"queue_name": name, "step": "confirm"})
    assert response.status_code == 200, response.text
    assert room.sent() == [("DELETE", f"/queues/{name}/calls/{legs[0]}")]
    assert legs[0] not in room.world.snapshot()["queue_calls"][name]


# --- refused before Telnyx is asked -----------------------------------------------------------


@pytest.mark.parametrize(
    "path, data, typed, words",
    [
        ("/conferences/{conference}/dtmf", {"digits": "12E", "target": "all"}, 'value="12E"', "0-9, A-D"),
        ("/conferences/{conference}/dtmf", {"digits": "1", "duration_millis": "900"}, 'value="900"', "100 to 500"),
        ("/conferences/{conference}/play", {"audio_url": "https://e.com/a.wav", "loop": "101"}, 'value="101"',
         "1 to 100, or infinity"),
        ("/conferences/{conference}/speak", {"payload": "x" * 3001, "voice": "female"}, "x" * 3001, "at most 3000"),
        ("/conferences/{conference}/mute", {"target": "selected"}, 'value="selected" checked', "Tick at least one"),
        ("/conferences/{conference}/recording/start", {"format": "wav", "custom_file_name": "n" * 41},
         'value="' + "n" * 41 + '"', "at most 40"),
        ("/calls/{caller}/conference", {"name": "Big", "max_participants": "801"}, 'value="801"', "2 to 800"),
        ("/queues", {"queue_name": "q" * 256}, "q" * 256, "at most 255"),
        ("/queues/support/size", {"max_size": "0"}, 'value="0"', "at least 1"),
        ("/calls/{caller}/enqueue", {"queue_name": ""}, 'name="queue_name"', "required"),
    ],
)
def test_bad_input_is_refused_beside_the_field_without_calling_telnyx(room, path, data, typed, words):
    conference_id, legs = room.conference()
    response = room.post(path.format(conference=conference_id, caller=legs[0]), data)
    assert response.status_code == 422
    assert words in response.text
    assert typed in response.text
    assert 'aria-invalid="true"' in response.text
    assert room.sent() == []


# --- refused by Telnyx ------------------------------------------------------------------------


def test_telnyx_refusal_shows_its_detail_next_to_the_control(room):
    name, _ = room.queue(max_size=1, callers=1)
    late = room.answered("+15550006666")
    target = f"enqueue-control__{late}"
    response = room.post(f"/calls/{late}/enqueue", {"queue_name": name}, target=target)
    assert response.status_code == 422
    assert f"The '{name}' queue is full and can't accept more calls." in html.unescape(response.text)
    assert "90036" in response.text
    assert response.headers["HX-Retarget"].endswith("[data-control-status]")
    assert response.headers["HX-Reswap"] == "innerHTML"


def test_a_refusal_without_htmx_is_a_page(room):
    name, _ = room.queue(callers=1)
    response = room.post(f"/queues/{name}/delete", {"step": "confirm"}, htmx=False)
    assert response.status_code == 400
    assert "Only empty queues can be deleted." in response.text
    assert "<html" in response.text


def test_a_telnyx_refusal_reads_as_a_sentence_with_the_code_in_small_print(room):
    name, _ = room.queue(callers=1)
    response = room.post(f"/queues/{name}/delete", {"step": "confirm"})
    assert response.status_code == 400
    notice = re.search(r'<p class="notice notice-error">(.*?)</p>', response.text, re.DOTALL).group(1)
    sentence, _, small = notice.partition("<small")
    assert sentence.strip().startswith("Telnyx refused: ") and "HTTP" not in sentence
    assert re.search(r'class="notice-code">HTTP 400(, code \w+)?</small>', notice), notice


def test_success_without_htmx_goes_back(room):
    conference_id, _ = room.conference()
    response = room.client.post(f"/conferences/{conference_id}/mute", data={"target": "all"},
                                headers={"Referer": f"http://localhost/conferences/{conference_id}"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/conferences/{conference_id}")


def test_rate_limited_command_that_recovers_says_it_retried(room):
    conference_id, _ = room.conference()
    room.simulator.chaos.fail_next("429", 1)
    response = room.post(f"/conferences/{conference_id}/speak", {"payload": "Hello", "voice": "female", "target": "all"})
    assert response.status_code == 200, response.text
    assert "Telnyx was rate-limiting; it worked after 1 retry" in response.text
    assert room.waits == [1.0]


def test_rate_limited_command_that_gives_up_says_so_and_schedules_a_retry(room):
    conference_id, _ = room.conference()
    room.simulator.chaos.fail_next("429", 3)
    response = room.post(f"/conferences/{conference_id}/speak", {"payload": "Hello", "voice": "female", "target": "all"},
                         target=f"speak-control__{conference_id}")
    assert response.status_code == 429
    assert "Telnyx is rate-limiting" in response.text
    assert "retried 2 times" in response.text
    assert "Retrying in 2 s (attempt 2 of 3)" in response.text
    assert 'hx-trigger="load delay:2.0s"' in response.text
    assert "&#34;_attempt&#34;: &#34;2&#34;" in response.text or '"_attempt": "2"' in response.text


def test_barging_in_asks_first(room):
    conference_id, legs = room.conference(size=3)
    path = f"/conferences/{conference_id}/participants/{legs[2]}/role"
    asked = room.post(path, {"supervisor_role": "barge"})
    assert asked.status_code == 200 and "Yes, barge in" in asked.text
    assert room.sent() == []
    confirmed = room.post(path, {"supervisor_role": "barge", "step": "confirm"})
    assert confirmed.status_code == 200, confirmed.text
    assert room.sent() == [("POST", f"/conferences/{conference_id}/actions/update")]
    assert room.body_sent()["supervisor_role"] == "barge"
    stored = {p["call_control_id"]: p for p in room.store("participants", conference_id)}
    assert stored[legs[2]]["supervisor_role"] == "barge"


def test_a_command_telnyx_never_saw_is_retried_by_the_browser_until_it_gives_up(room):
    conference_id, _ = room.conference()
    path, target = f"/conferences/{conference_id}/mute", f"audience-control__{conference_id}"
    room.simulator.chaos.fail_next("429", 3)
    first = room.post(path, {"target": "all"}, target=target)
    assert first.status_code == 429 and "attempt 2 of 3" in first.text
    second = room.post(path, {"target": "all", "_attempt": "2"}, target=target)
    assert second.status_code == 429 and "attempt 3 of 3" in second.text
    last = room.post(path, {"target": "all", "_attempt": "3"}, target=target)
    assert last.status_code == 429
    assert "Retrying" not in last.text and "hx-trigger" not in last.text
    assert room.everyone_muted(conference_id) is False


def test_an_ended_conference_says_so_at_the_top_and_offers_no_controls(room):
    conference_id, _ = room.conference(size=2)
    assert room.post(f"/conferences/{conference_id}/end", {"step": "confirm"}).status_code == 200
    wait_for(lambda: (room.store("conference", conference_id) or {}).get("status") == "completed", message="ended")
    page = room.client.get(f"/conferences/{conference_id}").text
    assert "This conference ended" in page and "data-ended-banner" in page
    assert page.index("data-ended-banner") < page.index("conference-controls")
    assert "data-control" not in page.split('id="conference-controls', 1)[1].split("</section>", 1)[0]
