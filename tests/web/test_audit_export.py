"""The audit CSV is streamed a batch at a time and says exactly what the whole-trail export said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console import create_app
from console.access.audit import csv_text
from console.state.schema import AUDIT_EVENT
from console.telnyx.events import console_event, format_timestamp
from console.web.views.audit import EXPORT_BATCH

START = datetime(2026, 3, 2, 8, tzinfo=UTC)


def entries(count: int) -> list:
    """Audit entries by two users; every tenth shares its moment with the one before (ties broken by id)."""
    made = []
    for n in range(count):
        at = START + timedelta(seconds=n - (n % 10 == 9))
        made.append(console_event(AUDIT_EVENT, {
            "at": format_timestamp(at), "user_name": ("ada", "sam")[n % 2], "role": "admin",
            "action": ("queues.dequeue", "participants.mute")[n % 3 == 0], "result": "ok", "status": 200,
            "conference_id": f"conf-{n % 7}", "parameters": {"n": str(n), "note": "=SUM(A1)" if n == 5 else "x"}}))
    return made


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    app.config["PROPAGATE_EXCEPTIONS"] = True
    try:
        yield app
    finally:
        app.extensions["console.hub"].stop()


@pytest.mark.parametrize(("query", "filters"), [("", {}), ("?user=sam", {"user_name": "sam"}),
                                                 ("?action=participants.mute", {"action": "participants.mute"})])
def test_the_export_is_streamed_and_equals_the_whole_trail(app, query, filters):
    store = app.extensions["console.store"]
    store.apply_many(entries(3 * EXPORT_BATCH + 77))
    response = app.test_client().get(f"/audit.csv{query}")
    assert response.status_code == 200 and response.is_streamed
    expected = csv_text(store.audit_entries(**filters, limit=None))
    assert response.get_data(as_text=True) == expected
    assert expected.count("\r\n") > EXPORT_BATCH  # more than one batch was written


def test_an_empty_trail_exports_its_header(app):
    response = app.test_client().get("/audit.csv?user=nobody")
    assert response.is_streamed and response.get_data(as_text=True) == csv_text([])


def test_batches_follow_each_other_without_a_gap_or_a_repeat(app):
    store = app.extensions["console.store"]
    store.apply_many(entries(3 * 40 + 1))
    batches = list(store.audit_batches(40))
    assert [len(batch) for batch in batches] == [40, 40, 40, 1]
    ids = [entry["id"] for batch in batches for entry in batch]
    assert ids == [entry["id"] for entry in store.audit_entries(limit=None)]
