"""Starting a shift: navigation, queue health on the dashboard, acknowledging alerts, the line bar."""

from __future__ import annotations

import pytest

from console import create_app
from console.access.users import add_user
from console.ingest.bus import get_bus
from console.queues.acks import ACK_TYPE
from console.telnyx.events import console_event
from tests.signing_in import signed_in_client

PASSWORD = "correct horse battery"
PEOPLE = {"vera": "viewer", "sam": "supervisor", "ada": "admin"}


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "shift-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "TELNYX_API_KEY": "unused"})
    store = app.extensions["console.store"]
    for name, role in PEOPLE.items():
        add_user(store, name, role, PASSWORD)
    yield app
    app.extensions["console.hub"].stop()


def raise_alert(app, queue="Sales", metric="depth", level="critical"):
    event = console_event("console.alert.raised", {"queue": queue, "metric": metric, "level": level, "value": 9,
                                                   "message": f"{queue}: callers waiting {level} (9)."})
    with app.app_context():
        get_bus().publish(event)
    return event


def acks(app):
    return app.extensions["console.store"].logged_events_of_types([ACK_TYPE])


def test_navigation_names_the_wallboard_and_alerts(app):
    page = signed_in_client(app, "vera", PASSWORD).get("/").text
    assert ">Wallboard</a>" in page and ">Alerts</a>" in page


def test_a_supervisor_acknowledges_an_alert_and_it_is_audited(app):
    first = raise_alert(app)
    raise_alert(app)  # the same condition again: folded into the first
    client = signed_in_client(app, "sam", PASSWORD)
    page = client.get("/alerts").text
    assert "raised 2 times" in page and "Acknowledge" in page
    answer = client.post(f"/alerts/{first.id}/acknowledge")
    assert answer.status_code == 303
    assert [event.payload["by"] for event in acks(app)] == ["sam"]
    page = client.get("/alerts").text
    assert "sam<span" in page and "Acknowledge</button>" not in page
    again = client.post(f"/alerts/{first.id}/acknowledge")
    assert again.status_code == 409 and "already acknowledged" in again.text
    trail = signed_in_client(app, "ada", PASSWORD).get("/audit").text
    assert "shift.acknowledge_alert" in trail


def test_a_viewer_cannot_acknowledge_and_a_post_without_csrf_is_refused(app):
    alert = raise_alert(app)
    viewer = signed_in_client(app, "vera", PASSWORD)
    assert viewer.post(f"/alerts/{alert.id}/acknowledge").status_code == 403
    supervisor = signed_in_client(app, "sam", PASSWORD)
    del supervisor.environ_base["HTTP_X_CSRF_TOKEN"]
    assert supervisor.post(f"/alerts/{alert.id}/acknowledge").status_code in (400, 403)
    assert acks(app) == []
    assert signed_in_client(app, "ada", PASSWORD).post("/alerts/unknown/acknowledge").status_code == 404


def test_dashboard_queue_rows_show_service_level_abandons_and_the_active_alert(app):
    store = app.extensions["console.store"]
    with app.app_context():
        get_bus().publish(console_event("console.queue.synced", {"name": "Sales", "current_size": 2, "max_size": 10}))
    raise_alert(app, queue="Sales", metric="longest_wait", level="warning")
    assert store.queue("Sales") is not None
    page = signed_in_client(app, "vera", PASSWORD).get("/").text
    assert "Service level</th>" in page and "Abandoned</th>" in page
    row = page[page.index('class="queue-row"'):]
    row = row[:row.index("</tr>")]
    assert "warning<span class=\"alert-what\"> longest wait</span>" in row and 'class="col-num col-abandons">0<' in row


def test_the_line_bar_is_hidden_without_a_live_line(app):
    client = signed_in_client(app, "sam", PASSWORD)
    assert 'id="line-bar" class="line-bar" hidden' in client.get("/history").text
    assert 'id="line-bar" class="line-bar" hidden' in client.get("/supervisor/line/bar").text
