"""A delivery's ``meta`` and any field the console does not know are ignored: the event reads and stores the same."""

from __future__ import annotations

import copy
import json

import pytest

from console.telnyx.events import parse_event
from tests import event_factory as factory
from tests.signed_webhooks import encode, post_signed, webhook_app

CONFERENCE = "3b7c1f6a-8f1e-4a53-9d1a-0d4f5c2b7e11"
META = {"attempt": 3, "delivered_to": "https://console.example.com/webhooks/telnyx"}


def delivered(body: dict) -> dict:
    """The same body as Telnyx delivers it on a third try, with a top-level field no schema lists."""
    return {**copy.deepcopy(body), "meta": dict(META), "delivery_region": "eu-west"}


BODIES = {
    "joined (wrapped, occurred_at beside payload)": factory.body(
        "conference.participant.joined", factory.at(3), event_id="joined-1", conference_id=CONFERENCE,
        **factory.leg_ids("v3:agent")),
    "ended (wrapped, occurred_at in payload)": factory.body(
        "conference.ended", factory.at(9), event_id="ended-1", conference_id=CONFERENCE, reason="host_left",
        **factory.leg_ids("v3:agent")),
    "floor changed (unwrapped)": factory.body(
        "conference.floor.changed", factory.at(5), event_id="floor-1", conference_id=CONFERENCE,
        **factory.leg_ids("v3:agent")),
}


@pytest.mark.parametrize("shape", list(BODIES), ids=list(BODIES))
def test_meta_and_an_unknown_field_parse_to_the_same_event(shape):
    plain = parse_event(json.dumps(BODIES[shape]).encode())
    with_meta = parse_event(json.dumps(delivered(BODIES[shape])).encode())

    assert with_meta == plain
    assert (with_meta.id, with_meta.event_type, with_meta.occurred_at, with_meta.payload, with_meta.source) == (
        plain.id, plain.event_type, plain.occurred_at, plain.payload, plain.source)
    assert "meta" not in with_meta.payload and "attempt" not in with_meta.payload


def test_meta_is_not_mistaken_for_the_event_when_data_is_present():
    body = delivered(BODIES["joined (wrapped, occurred_at beside payload)"])
    body["meta"]["event_type"] = "conference.ended"
    assert parse_event(body).event_type == "conference.participant.joined"


def _stored(tmp_path, key, name: str, bodies: list[dict]):
    """Post `bodies` signed to a fresh console; return every answer's status and the store's state."""
    app = webhook_app(tmp_path / f"{name}.db", key)
    client = app.test_client()
    statuses = [post_signed(client, key, encode(body)).status_code for body in bodies]
    store = app.extensions["console.store"]
    return statuses, store.state(), store.event_count()


def test_a_console_stores_a_delivery_with_meta_exactly_as_one_without(tmp_path, key):
    bodies = list(BODIES.values())
    plain = _stored(tmp_path, key, "plain", bodies)
    with_meta = _stored(tmp_path, key, "meta", [delivered(body) for body in bodies])

    assert plain[0] == [200, 200, 200]
    assert plain[2] == 3
    assert plain[1]["conferences"][CONFERENCE]["end_reason"] == "host_left"
    assert with_meta == plain
