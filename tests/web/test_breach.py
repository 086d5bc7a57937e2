"""The countdown to the service-level target on the queue page, and moving a breached caller."""

from __future__ import annotations

import pytest

from tests.live_servers import *  # the simulator, live_console and friends fixtures
from tests.signing_in import csrf_client
from tests.waiting import wait_for

SUPPORT_LINE = "+18005550100"


@pytest.fixture
def console_overrides():
    return {"CONSOLE_SL_QUEUE_TARGETS": "Support=80/30"}


def queue_caller(world, queue, number):
    call = world.incoming_call(number, SUPPORT_LINE)
    world.answer_call(call["call_control_id"])
    world.enqueue(call["call_control_id"], queue)
    return call["call_control_id"]


def test_countdown_and_move_to_another_queue(live_console, simulator):
    world = simulator.world
    queue_caller(world, "Sales", "+15550001000")
    leg = queue_caller(world, "Support", "+15550002000")
    store = live_console.app.extensions["console.store"]
    wait_for(lambda: store.queue_calls("Support") and store.queue_calls("Sales"))
    client = csrf_client(live_console.app)
    html = client.get("/queues/Support").get_data(as_text=True)
    assert 'data-breach-target="30"' in html  # the per-queue target, not the default 20
    assert "data-breach-actions data-control hidden hx-preserve" in html
    assert "<option>Sales</option>" not in html  # the forms load when the caller reaches the target
    forms = client.get(f"/queues/Support/calls/{leg}/breach-actions", headers={"HX-Request": "true"})
    assert forms.status_code == 200 and "<option>Sales</option>" in forms.get_data(as_text=True)
    assert ">Speak to caller</button>" in forms.get_data(as_text=True)
    gone = client.get("/queues/Support/calls/v3:nobody/breach-actions", headers={"HX-Request": "true"})
    assert gone.status_code == 404 and "no longer waiting" in gone.get_data(as_text=True)
    answer = client.post(f"/queues/Support/calls/{leg}/move", data={"target_queue": "Sales"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    wait_for(lambda: not store.queue_calls("Support") and len(store.queue_calls("Sales")) == 2,
             message="the caller did not move from Support to Sales")
    refused = client.post(f"/queues/Sales/calls/{leg}/move", data={"target_queue": "Sales"})
    assert refused.status_code == 422
