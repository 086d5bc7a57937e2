"""Each control, driven in Chromium, changes the simulator's world, and the page then shows it.

The console and the simulator run for real (webhooks flow back over HTTP); every control is one
parametrized case: stage the calls, open the page, use the control with mouse and keyboard, wait
for the world to change, then wait for the page to show the webhook or console event that follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from playwright.sync_api import Page, expect

from console.live.ui import dom_id
from console.simulator.world import WorldError
from console.state.store import get_store
from tests.live_servers import *
from tests.signing_in import csrf_client
from tests.waiting import wait_for

pytestmark = pytest.mark.browser


class Stage:
    """The running console and simulator, with helpers that put calls where a test needs them."""

    def __init__(self, console, simulator):
        self.console = console
        self.simulator = simulator
        self.world = simulator.world
        self.webhooks: list[dict] = []
        self.world.subscribe(self.webhooks.append)
        self._numbers = iter(range(1000, 9999))

    def store(self, query, *args):
        with self.console.app.app_context():
            return getattr(get_store(), query)(*args)

    def answered(self) -> str:
        call = self.world.incoming_call(f"+1555000{next(self._numbers)}", "+15557770000")
        self.world.answer_call(call["call_control_id"])
        ccid = call["call_control_id"]
        wait_for(lambda: (self.store("call", ccid) or {}).get("state") == "answered", message="answered")
        return ccid

    def conference(self, size: int = 2, name: str = "Escalations") -> dict:
        legs = [self.answered() for _ in range(size)]
        conference_id = self.world.create_conference(legs[0], name)["id"]
        for leg in legs[1:]:
            self.world.conference_action(conference_id, "join", {"call_control_id": leg})
        wait_for(lambda: len(self.store("participants", conference_id)) == size, message="participants known")
        return {"conference": conference_id, "legs": legs}

    def queue(self, name: str = "support", max_size: int = 5, callers: int = 1) -> dict:
        # Telnyx sends no webhook for a new queue, so an empty one is created through the console.
        self.command("/queues", queue_name=name, max_size=str(max_size))
        legs = [self.answered() for _ in range(callers)]
        for leg in legs:
            self.world.enqueue(leg, name)
        wait_for(lambda: self.store("queue", name) and len(self.store("queue_calls", name)) == callers,
                 message="queue known")
        return {"queue": name, "legs": legs}

    def participant(self, scene: dict, index: int) -> dict:
        return self.world.snapshot()["participants"][scene["conference"]][scene["legs"][index]]

    def everyone(self, scene: dict, field: str) -> list:
        return [p[field] for p in self.world.snapshot()["participants"][scene["conference"]].values()
                if p["status"] != "left"]

    def command(self, path: str, **form) -> None:
        """Use a control through the console (not the page) to set a scene up."""
        answer = csrf_client(self.console.app).post(path, data=form, headers={"HX-Request": "true"})
        assert answer.status_code == 200, answer.text

    def heard(self, event_type: str) -> list[dict]:
        events = [body.get("data", body) for body in list(self.webhooks)]
        return [event["payload"] for event in events if event["event_type"] == event_type]


@pytest.fixture
def live_console(quiet_console):
    """A console without the reconciler, so chaos aimed at a control is not spent by a background sync."""
    return quiet_console


@pytest.fixture
def stage(live_console, simulator):
    return Stage(live_console, simulator)


def css(kind: str, *parts) -> str:
    return "#" + dom_id(kind, *parts)


def card(page: Page, scene: dict, index: int):
    return page.locator(css("participant", scene["conference"], scene["legs"][index]))


def button(scope, name: str):
    """A button whose accessible name starts with `name` (so "Mute" never matches "Unmute")."""
    return scope.get_by_role("button", name=re.compile(rf"^{re.escape(name)}"))


def conference_page(scene: dict) -> str:
    return f"/conferences/{scene['conference']}"


def queue_page(scene: dict) -> str:
    return f"/queues/{scene['queue']}"


def open_panel(page: Page, panel_id: str):
    """Open a collapsed control panel with the keyboard, the way a supervisor without a mouse would."""
    summary = page.locator(f"{panel_id} > summary")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator(panel_id)).to_have_attribute("open", "")
    return page.locator(panel_id)


def pick_selected(page: Page, scene: dict, index: int, form_id: str):
    """Tick one participant's card checkbox and aim a conference control at the selection."""
    card(page, scene, index).get_by_label(re.compile("^Select")).check()
    page.locator(f"{form_id} input[name=target][value=selected]").check()


def pick_everyone(form):
    """Aim a conference control at everyone: nothing is preselected, the supervisor must choose."""
    form.locator("input[name=target][value=all]").check()


@dataclass(frozen=True)
class Control:
    """One control: how to stage it, where it lives, how to use it, and what must change."""

    name: str
    stage: Callable[[Stage], dict]
    path: Callable[[dict], str]
    act: Callable[[Page, dict], None]
    world: Callable[[Stage, dict], bool]
    page: Callable[[Page, dict], None]


def _mute_all(page, scene):
    form = page.locator(css("audience-control", scene["conference"]))
    pick_everyone(form)
    button(form, "Mute").click()


def _mute_one(page, scene):
    button(card(page, scene, 1), "Mute").click()


def _unmute_selected(page, scene):
    form = css("audience-control", scene["conference"])
    pick_selected(page, scene, 0, form)
    button(page.locator(form), "Unmute").click()


def _hold_all_with_music(page, scene):
    form = page.locator(css("audience-control", scene["conference"]))
    form.get_by_label("Hold music URL").fill("https://example.com/hold.mp3")
    pick_everyone(form)
    button(form, "Hold").click()


def _unhold_one(page, scene):
    button(card(page, scene, 0), "Unhold").click()


def _play_to_selected(page, scene):
    panel = open_panel(page, css("control-panel", "play", scene["conference"]))
    pick_selected(page, scene, 1, css("playback-control", scene["conference"]))
    panel.get_by_label("Audio URL").fill("https://example.com/notice.wav")
    panel.get_by_label("Times to play").fill("infinity")
    button(panel, "Play").click()


def _stop_audio(page, scene):
    panel = open_panel(page, css("control-panel", "play", scene["conference"]))
    pick_everyone(panel)
    button(panel, "Stop audio").click()


def _speak_to_selected(page, scene):
    panel = open_panel(page, css("control-panel", "speak", scene["conference"]))
    pick_selected(page, scene, 0, css("speak-control", scene["conference"]))
    panel.get_by_label("What to say").fill("A supervisor is joining the call. " * 8)
    panel.get_by_label("Language").select_option("en-GB")
    button(panel, "Speak").click()


def _send_dtmf(page, scene):
    panel = open_panel(page, css("control-panel", "dtmf", scene["conference"]))
    pick_everyone(panel)
    panel.get_by_label("Digits").fill("12w#")
    panel.get_by_label("Digits").press("Enter")


def _gather(page, scene):
    more = open_panel(page, css("participant-more", scene["conference"], scene["legs"][1]))
    form = more.locator(css("gather-control", scene["conference"], scene["legs"][1]))
    form.get_by_label("Prompt audio URL").fill("https://example.com/prompt.wav")
    button(form, "Play prompt and gather").click()
    expect(form.locator(".notice-success")).to_be_visible()


def _record_start(page, scene):
    panel = open_panel(page, css("control-panel", "recording", scene["conference"]))
    panel.get_by_label("Format").select_option("wav")
    panel.get_by_label("Channels").select_option("dual")
    button(panel, "Start recording").click()


def _record_pause(page, scene):
    button(open_panel(page, css("control-panel", "recording", scene["conference"])), "Pause").click()


def _record_stop(page, scene):
    button(open_panel(page, css("control-panel", "recording", scene["conference"])), "Stop recording").click()


def _join_parked(page, scene):
    panel = open_panel(page, css("control-panel", "join", scene["conference"]))
    expect(panel.get_by_label("Parked call")).to_contain_text(scene["parked"][:8])
    panel.get_by_label("Parked call").select_option(scene["parked"])
    panel.get_by_label("Join muted").check()
    button(panel, "Join call to conference").click()


def _remove_participant(page, scene):
    button(card(page, scene, 1), "Remove").click()
    confirm = card(page, scene, 1).get_by_role("button", name=re.compile("^Yes, take .* out"))
    expect(card(page, scene, 1).locator(".confirm-question")).to_contain_text("is not hung up")
    confirm.click()


def _whisper(page, scene):
    more = open_panel(page, css("participant-more", scene["conference"], scene["legs"][2]))
    form = more.locator(css("role-control", scene["conference"], scene["legs"][2]))
    form.get_by_label("Role").select_option("whisper")
    form.locator(f"input[value='{scene['legs'][1]}']").check()
    button(form, "Change role").click()


def _settings(page, scene):
    more = open_panel(page, css("participant-more", scene["conference"], scene["legs"][1]))
    form = more.locator(css("settings-control", scene["conference"], scene["legs"][1]))
    form.get_by_label("End the conference when this participant leaves").check()
    button(form, "Save settings").click()


def _end_conference(page, scene):
    form = page.locator(css("end-control", scene["conference"]))
    button(form, "End conference").click()
    expect(form.get_by_text("for everyone?")).to_be_visible()
    expect(button(form, "Cancel")).to_be_focused()
    button(form, "Yes, end it").click()


def _create_queue(page, scene):
    panel = open_panel(page, css("control-panel", "new-queue"))
    panel.get_by_label("Queue name").fill("callbacks")
    panel.get_by_label("Most calls waiting").fill("4")
    button(panel, "Create queue").click()


def _resize_queue(page, scene):
    form = page.locator(css("queue-size-control", scene["queue"]))
    form.get_by_label("Most calls waiting").fill("12")
    button(form, "Save size").click()


def _delete_queue(page, scene):
    form = page.locator(css("queue-delete-control", scene["queue"]))
    button(form, "Delete queue").click()
    button(form, "Yes, delete it").click()


def _keep_after_hangup(page, scene):
    form = page.locator(css("queued-call-keep", scene["queue"], scene["legs"][0]))
    form.get_by_label("Keep place after hangup").check()
    button(form, "Apply").click()
    expect(form.locator(".notice-success")).to_be_visible()


def _take_out_of_queue(page, scene):
    button(page.locator(css("queued-call-exit", scene["queue"], scene["legs"][0])), "Take out").click()


def _force_remove(page, scene):
    form = page.locator(css("queued-call-exit", scene["queue"], scene["legs"][0]))
    button(form, "Force remove").click()
    button(form, "Yes, remove").click()


def _parked_panel(page, scene, kind):
    open_panel(page, css("control-panel", "parked"))
    return open_panel(page, css("control-panel", kind, scene["parked"]))


def _start_conference(page, scene):
    panel = _parked_panel(page, scene, "conference")
    panel.get_by_label("Conference name").fill("Billing dispute")
    panel.get_by_label("Most participants").fill("5")
    button(panel, "Start conference").click()


def _enqueue(page, scene):
    panel = _parked_panel(page, scene, "enqueue")
    panel.get_by_label("Queue", exact=True).fill(scene["queue"])
    button(panel, "Put in queue").click()


def with_parked(make: Callable[[Stage], dict]) -> Callable[[Stage], dict]:
    def stage(s: Stage) -> dict:
        scene = make(s)
        return {**scene, "parked": s.answered()}
    return stage


def recording_running(s: Stage) -> dict:
    scene = s.conference()
    s.command(f"/conferences/{scene['conference']}/recording/start", format="wav")
    return scene


def gathered(s: Stage, scene: dict) -> bool:
    if not s.heard("call.gather.ended"):
        s.world.press_digits(scene["legs"][1], "42#")
    return any(e.get("digits") == "42" for e in s.heard("call.gather.ended"))


def started_dual_wav(s: Stage, scene: dict) -> bool:
    """Stop the recording from the world's side; what it saves shows what the control started."""
    if not s.heard("conference.recording.saved"):
        try:
            s.world.conference_action(scene["conference"], "record_stop", {})
        except WorldError:
            return False  # the control's record_start has not reached the world yet
    return any((e["format"], e["channels"]) == ("wav", "dual") for e in s.heard("conference.recording.saved"))


def still_recording(s: Stage, scene: dict) -> bool:
    """A paused recording is neither saved nor gone: the world still holds it, unsaved."""
    conference = s.world.snapshot()["conferences"][scene["conference"]]
    return conference["status"] == "in_progress" and not s.heard("conference.recording.saved")


def playing(s: Stage) -> dict:
    scene = s.conference()
    s.world.conference_action(scene["conference"], "play",
                              {"media_name": "hold-music", "loop": "infinity", "call_control_ids": [scene["legs"][1]]})
    wait_for(lambda: any(p["playing"] for p in s.store("participants", scene["conference"])), message="playing")
    return scene


def muted_everyone(s: Stage) -> dict:
    scene = s.conference(size=3)
    s.command(f"/conferences/{scene['conference']}/mute", target="all")
    return scene


def held_everyone(s: Stage) -> dict:
    scene = s.conference()
    s.command(f"/conferences/{scene['conference']}/hold", target="all")
    return scene


def badge_count(page: Page, scene: dict, words: str, count: int):
    expect(page.locator(f"{css('participant-cards')} .badge", has_text=words)).to_have_count(count)


def recording_saved(s: Stage, scene: dict) -> bool:
    saved = s.heard("conference.recording.saved")
    if not saved:
        return False
    wav = requests.get(saved[-1]["recording_urls"]["wav"], timeout=5)
    return wav.status_code == 200 and wav.content[:4] == b"RIFF"


CONTROLS = [
    Control("mute everyone", lambda s: s.conference(size=3), conference_page, _mute_all,
            lambda s, c: s.everyone(c, "muted") == [True, True, True],
            lambda p, c: badge_count(p, c, "Muted", 3)),
    Control("mute one participant", lambda s: s.conference(), conference_page, _mute_one,
            lambda s, c: [s.participant(c, 0)["muted"], s.participant(c, 1)["muted"]] == [False, True],
            lambda p, c: (expect(card(p, c, 1).locator(".badge", has_text="Muted")).to_be_visible(),
                          expect(button(card(p, c, 1), "Unmute")).to_be_visible(),
                          expect(card(p, c, 0).locator(".badge", has_text="Muted")).to_have_count(0))),
    Control("unmute the selected participant", muted_everyone, conference_page, _unmute_selected,
            lambda s, c: [s.participant(c, i)["muted"] for i in range(3)] == [False, True, True],
            lambda p, c: badge_count(p, c, "Muted", 2)),
    Control("hold everyone with music", lambda s: s.conference(), conference_page, _hold_all_with_music,
            lambda s, c: s.everyone(c, "on_hold") == [True, True],
            lambda p, c: badge_count(p, c, "On hold", 2)),
    Control("unhold one participant", held_everyone, conference_page, _unhold_one,
            lambda s, c: [s.participant(c, 0)["on_hold"], s.participant(c, 1)["on_hold"]] == [False, True],
            lambda p, c: expect(card(p, c, 0).locator(".badge", has_text="On hold")).to_have_count(0)),
    Control("play audio to the selected participant", lambda s: s.conference(), conference_page, _play_to_selected,
            lambda s, c: any(e["call_control_id"] == c["legs"][1] and e["media_url"] == "https://example.com/notice.wav"
                             for e in s.heard("conference.participant.playback.started")),
            lambda p, c: expect(card(p, c, 1).locator(".control-flags")).to_contain_text(
                "Hearing https://example.com/notice.wav")),
    Control("stop audio", playing, conference_page, _stop_audio,
            lambda s, c: bool(s.heard("conference.participant.playback.ended")),
            lambda p, c: expect(card(p, c, 1).locator(".control-flags")).to_have_count(0)),
    Control("speak to the selected participant", lambda s: s.conference(), conference_page, _speak_to_selected,
            lambda s, c: any(e["call_control_id"] == c["legs"][0]
                             for e in s.heard("conference.participant.speak.started")),
            lambda p, c: expect(card(p, c, 0).locator(".control-flags")).to_contain_text("Hearing speech")),
    Control("send DTMF", lambda s: s.conference(), conference_page, _send_dtmf,
            # The simulator keeps no trace of tones; the command is accepted only for a live conference.
            lambda s, c: s.world.snapshot()["conferences"][c["conference"]]["status"] == "in_progress",
            lambda p, c: expect(p.locator(css("dtmf-control", c["conference"]))).to_contain_text("Sent 12w#.")),
    Control("gather digits with a prompt", lambda s: s.conference(), conference_page, _gather, gathered,
            lambda p, c: expect(card(p, c, 1).locator(".gather-result")).to_contain_text("Keys pressed: 42")),
    Control("start recording", lambda s: s.conference(), conference_page, _record_start, started_dual_wav,
            lambda p, c: expect(p.locator("#recording-list")).to_contain_text("WAV · dual")),
    # The simulator shows no pause state; a paused recording is one the world still holds unsaved.
    Control("pause recording", recording_running, conference_page, _record_pause, still_recording,
            lambda p, c: (expect(p.locator(css("recording-control", c["conference"]))).to_contain_text("paused"),
                          expect(p.locator(css("conference-header", c["conference"]) + " .rec-flag"))
                          .to_have_count(0))),
    Control("stop recording", recording_running, conference_page, _record_stop, recording_saved,
            lambda p, c: expect(p.locator("#recording-list audio")).to_have_count(1)),
    Control("join a parked call", with_parked(lambda s: s.conference()), conference_page, _join_parked,
            lambda s, c: s.world.snapshot()["participants"][c["conference"]].get(c["parked"], {}).get("muted") is True,
            lambda p, c: expect(p.locator(css("participant", c["conference"], c["parked"]))).to_be_visible()),
    Control("remove a participant", lambda s: s.conference(), conference_page, _remove_participant,
            lambda s, c: s.participant(c, 1)["status"] == "left",
            lambda p, c: expect(card(p, c, 1)).to_have_count(0)),
    Control("whisper to one participant", lambda s: s.conference(size=3), conference_page, _whisper,
            lambda s, c: s.participant(c, 2)["whisper_call_control_ids"] == [c["legs"][1]],
            lambda p, c: expect(card(p, c, 2).locator(".badge-role")).to_contain_text("whisper")),
    Control("participant settings", lambda s: s.conference(), conference_page, _settings,
            lambda s, c: s.participant(c, 1)["end_conference_on_exit"] is True,
            lambda p, c: expect(card(p, c, 1).locator(".control-flags")).to_contain_text("Ends the conference")),
    Control("end the conference", lambda s: s.conference(), conference_page, _end_conference,
            lambda s, c: s.world.snapshot()["conferences"][c["conference"]]["status"] == "completed",
            lambda p, c: expect(p.locator(css("conference-header", c["conference"]))).to_contain_text("Ended")),
    Control("create a queue", lambda s: {}, lambda c: "/", _create_queue,
            lambda s, c: s.world.snapshot()["queues"].get("callbacks", {}).get("max_size") == 4,
            lambda p, c: expect(p.locator(css("queue", "callbacks"))).to_contain_text(re.compile(r"\b4\b"))),
    Control("resize a queue", lambda s: s.queue(), queue_page, _resize_queue,
            lambda s, c: s.world.snapshot()["queues"][c["queue"]]["max_size"] == 12,
            lambda p, c: expect(p.locator(css("queue-header", c["queue"]))).to_contain_text(re.compile(r"\b12\b"))),
    Control("delete a queue", lambda s: s.queue(callers=0), queue_page, _delete_queue,
            lambda s, c: c["queue"] not in s.world.snapshot()["queues"],
            lambda p, c: expect(p.locator(css("queue-header", c["queue"]))).to_contain_text("Deleted")),
    Control("keep a queued call's place after hangup", lambda s: s.queue(), queue_page, _keep_after_hangup,
            lambda s, c: (s.world.remote_hangup(c["legs"][0]) or True)
            and c["legs"][0] in s.world.snapshot()["queue_calls"][c["queue"]],
            lambda p, c: expect(p.locator(css("queued-call", c["queue"], c["legs"][0]))).to_contain_text("Hung up")),
    Control("take a call out of its queue", lambda s: s.queue(), queue_page, _take_out_of_queue,
            lambda s, c: c["legs"][0] not in s.world.snapshot()["queue_calls"][c["queue"]],
            lambda p, c: expect(p.locator(css("queued-call", c["queue"], c["legs"][0]))).to_have_count(0)),
    Control("force a call out of its queue", lambda s: s.queue(), queue_page, _force_remove,
            lambda s, c: c["legs"][0] not in s.world.snapshot()["queue_calls"][c["queue"]],
            lambda p, c: expect(p.locator(css("queued-call", c["queue"], c["legs"][0]))).to_have_count(0)),
    Control("start a conference from a parked call", with_parked(lambda s: {}), lambda c: "/", _start_conference,
            lambda s, c: any(x["name"] == "Billing dispute" for x in s.world.snapshot()["conferences"].values()),
            lambda p, c: expect(p.locator(css("conference-rows"))).to_contain_text("Billing dispute")),
    Control("put a parked call in a queue", with_parked(lambda s: s.queue()), lambda c: "/", _enqueue,
            lambda s, c: c["parked"] in s.world.snapshot()["queue_calls"][c["queue"]],
            lambda p, c: expect(p.locator(css("queue", c["queue"]) + " .col-num").first)
            .to_contain_text(re.compile(r"^\s*2\b"))),
]


def open_live(page: Page, console, path: str) -> None:
    page.goto(console.url + path)
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")


@pytest.mark.parametrize("control", CONTROLS, ids=[c.name for c in CONTROLS])
def test_control_changes_the_world_and_the_page_shows_it(page, stage, live_console, control, artifacts_dir):
    scene = control.stage(stage)
    open_live(page, live_console, control.path(scene))
    control.act(page, scene)
    wait_for(lambda: control.world(stage, scene), timeout=10, message=f"{control.name}: world unchanged")
    try:
        control.page(page, scene)
    finally:
        page.screenshot(path=str(artifacts_dir / f"control-{re.sub(r'[^a-z0-9]+', '-', control.name.lower())}.png"),
                        full_page=True)


def test_a_full_queue_refusal_is_shown_beside_the_control(page, stage, live_console, artifacts_dir):
    scene = with_parked(lambda s: s.queue(max_size=1))(stage)
    open_live(page, live_console, "/")
    panel = _parked_panel(page, scene, "enqueue")
    panel.get_by_label("Queue", exact=True).fill(scene["queue"])
    button(panel, "Put in queue").click()
    notice = panel.locator(".notice-error")
    expect(notice).to_contain_text("The 'support' queue is full and can't accept more calls")
    expect(notice.locator("small.notice-code")).to_have_text("HTTP 422, code 90036")
    expect(panel.get_by_label("Queue", exact=True)).to_have_value(scene["queue"])
    assert scene["parked"] not in stage.world.snapshot()["queue_calls"][scene["queue"]]
    page.screenshot(path=str(artifacts_dir / "control-queue-full.png"), full_page=True)


def test_deleting_a_queue_with_callers_shows_telnyx_refusal(page, stage, live_console):
    scene = stage.queue()
    open_live(page, live_console, queue_page(scene))
    _delete_queue(page, scene)
    expect(page.locator(css("queue-delete-control", scene["queue"]) + " .notice-error")).to_contain_text(
        "Only empty queues can be deleted")
    assert scene["queue"] in stage.world.snapshot()["queues"]


def test_bad_input_is_refused_beside_the_field_and_keeps_focus(page, stage, live_console, artifacts_dir):
    scene = stage.conference()
    open_live(page, live_console, conference_page(scene))
    panel = open_panel(page, css("control-panel", "dtmf", scene["conference"]))
    panel.get_by_label("Digits").fill("12E")
    panel.get_by_label("Digits").press("Enter")
    digits = panel.get_by_label("Digits")
    expect(digits).to_have_attribute("aria-invalid", "true")
    expect(panel.locator(".field-error")).to_contain_text("Digits may only be 0-9, A-D, *, #, w and W (not E)")
    expect(digits).to_have_value("12E")
    expect(digits).to_be_focused()
    page.screenshot(path=str(artifacts_dir / "control-bad-dtmf.png"), full_page=True)


def test_a_slow_command_shows_pending_then_telnyx_answer(page, stage, live_console):
    scene = stage.conference()
    open_live(page, live_console, conference_page(scene))
    stage.simulator.chaos.update(timeout_seconds=1.5)
    stage.simulator.chaos.fail_next("timeout")
    form = page.locator(css("audience-control", scene["conference"]))
    pick_everyone(form)
    mute = button(form, "Mute")
    mute.focus()
    page.keyboard.press("Enter")
    expect(form).to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(mute).to_be_disabled()
    expect(form.locator(".control-pending")).to_be_visible()
    expect(form.locator(".notice-error")).to_contain_text("HTTP 503")
    expect(mute).to_be_enabled()
    expect(form.locator(".control-pending")).to_be_hidden()
    expect(mute).to_be_focused()


def test_a_rate_limited_command_says_so_and_the_browser_sends_it_again(page, stage, live_console):
    scene = stage.conference()
    open_live(page, live_console, conference_page(scene))
    stage.simulator.chaos.fail_next("429", 1)
    form = page.locator(css("audience-control", scene["conference"]))
    pick_everyone(form)
    button(form, "Mute").click()
    expect(form.locator(".notice-error")).to_contain_text("Telnyx is rate-limiting")
    expect(form.locator(".notice-error")).to_contain_text("Retrying in 2 s (attempt 2 of 3)")
    assert stage.everyone(scene, "muted") == [False, False]
    expect(form.locator(".notice-success")).to_contain_text("Muted everyone", timeout=8000)
    wait_for(lambda: stage.everyone(scene, "muted") == [True, True], message="muted on the retry")
    badge_count(page, scene, "Muted", 2)


def _mark(page: Page, selector: str) -> None:
    """Tag the element on screen now, so a test can tell when a live push has replaced it."""
    page.locator(selector).evaluate("element => { element.dataset.testMark = 'before'; }")


def _replaced(page: Page, selector: str) -> None:
    expect(page.locator(selector)).to_have_count(1)
    expect(page.locator(selector + "[data-test-mark]")).to_have_count(0)


def test_a_live_redraw_while_a_command_is_out_keeps_the_control_so_its_answer_lands(page, stage, live_console):
    scene = stage.queue()
    leg = scene["legs"][0]
    row = css("queued-call", scene["queue"], leg)
    open_live(page, live_console, queue_page(scene))
    stage.simulator.chaos.update(timeout_seconds=2)
    stage.simulator.chaos.fail_next("timeout")
    form = page.locator(css("queued-call-keep", scene["queue"], leg))
    form.get_by_label("Keep place after hangup").check()
    button(form, "Apply").click()
    expect(form).to_have_class(re.compile(r"\bhtmx-request\b"))
    _mark(page, row)
    # Someone else's change to the same queued call redraws its row while this command is out.
    stage.command(f"/queues/{scene['queue']}/calls/{leg}/keep", keep_after_hangup="true")
    _replaced(page, row)
    # The console retries Telnyx's 503 by itself; what matters is that its answer is on screen.
    expect(form.locator(".notice-success")).to_contain_text("Keeps its place after hangup")
    expect(form.locator(".notice-success")).to_contain_text("retry")
    expect(form).not_to_have_class(re.compile(r"\bhtmx-request\b"))


def test_a_live_redraw_just_after_an_answer_keeps_its_notice(page, stage, live_console):
    scene = stage.queue()
    leg = scene["legs"][0]
    row = css("queued-call", scene["queue"], leg)
    open_live(page, live_console, queue_page(scene))
    form = page.locator(css("queued-call-keep", scene["queue"], leg))
    form.get_by_label("Keep place after hangup").check()
    button(form, "Apply").click()
    expect(form.locator(".notice-success")).to_be_visible()
    _mark(page, row)
    stage.world.remote_hangup(leg)  # the caller hangs up: the row is redrawn to say so
    expect(page.locator(row)).to_contain_text("Hung up")
    _replaced(page, row)
    expect(form.locator(".notice-success")).to_be_visible()
    expect(form.get_by_label("Keep place after hangup")).to_be_checked()
