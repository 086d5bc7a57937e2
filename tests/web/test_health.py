"""/healthz says the process answers; /readyz proves the store takes writes and reports webhooks and the reconciler."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from console.telnyx import signing
from tests.live_servers import LiveConsole, console_config, simulator, simulator_clock  # noqa: F401
from tests.signed_webhooks import encode, envelope, post_signed, webhook_app
from tests.waiting import wait_for


@pytest.fixture
def database(tmp_path):
    return tmp_path / "console.db"


@pytest.fixture
def app(database, key):
    return webhook_app(database, key)


@pytest.fixture
def client(app):
    return app.test_client()


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_with_a_writable_store(client):
    response = client.get("/readyz")
    report = response.get_json()
    assert response.status_code == 200
    assert report["status"] == "ready"
    assert report["store"] == {"writable": True, "events": 0}
    assert report["webhooks"] == {"last_received_at": None, "age_seconds": None}
    assert report["reconciler"] == {"started": False}


def _last_probe(database) -> float:
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT probed_at FROM write_probes").fetchone()[0]
    finally:
        connection.close()


def test_readyz_write_test_really_commits_a_row(client, database):
    client.get("/readyz")
    first = _last_probe(database)
    wait_for(lambda: client.get("/readyz").status_code == 200 and _last_probe(database) > first)


def test_readyz_reports_the_age_of_the_last_verified_webhook(client, key):
    assert post_signed(client, key, encode(envelope())).status_code == 200
    webhooks = client.get("/readyz").get_json()["webhooks"]
    assert webhooks["last_received_at"].endswith("Z")
    assert 0 <= webhooks["age_seconds"] < 5


def test_refused_webhook_does_not_count_as_activity(client):
    other = signing.generate_signing_key()
    assert post_signed(client, other, encode(envelope())).status_code == 400
    assert client.get("/readyz").get_json()["webhooks"]["last_received_at"] is None


def test_readyz_is_503_while_another_writer_holds_the_database(client, database):
    blocker = sqlite3.connect(database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        report = response.get_json()
        assert report["status"] == "not ready"
        assert report["store"]["writable"] is False
        assert "locked" in report["store"]["error"]
        assert client.get("/healthz").status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_file_is_gone(client, database):
    assert client.get("/readyz").status_code == 200
    database.unlink()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["store"]["writable"] is False
    assert not database.exists(), "the probe must not create an empty database in its place"


def test_readyz_shows_the_running_reconciler(tmp_path, simulator):  # noqa: F811
    console = LiveConsole(console_config(tmp_path / "console.db", simulator), simulator, reconcile=True).start()
    try:
        def reconciled():
            report = requests.get(f"{console.url}/readyz", timeout=5).json()["reconciler"]
            return report if report["runs"] >= 1 else None

        report = wait_for(reconciled, timeout=10)
        assert report["started"] is True
        assert report["last_error"] is None
        assert report["last_finished_at"] is not None
        assert report["interval"] == console.app.config["CONSOLE_RECONCILE_INTERVAL"]
        assert report["history"][-1]["error"] is None
    finally:
        simulator.delivery.set_url(None)
        console.stop()
