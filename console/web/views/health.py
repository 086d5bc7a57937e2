"""GET /healthz (the process answers) and GET /readyz (it can do its job: store, webhooks, reconciler).

Load balancers and orchestrators poll these. /readyz answers 503 only when the database refuses a
real write, because then no webhook can be committed and Telnyx must send them elsewhere or later;
a quiet webhook feed or a failing reconciler is reported, not fatal, since either may be normal.
The database's size and the oldest day it keeps in full (retention) are reported alongside.
"""

from __future__ import annotations

import logging
import sqlite3
import time

from flask import Blueprint, current_app, jsonify

from console.queues.retention import database_report
from console.state.replay_ledger import get_ledger
from console.state.store import get_store

log = logging.getLogger("console.health")

health = Blueprint("health", __name__)

PROBE_TIMEOUT = 1.0


@health.get("/healthz")
def healthz():
    """The process is up and serving requests."""
    return jsonify({"status": "ok"})


def _store_check() -> dict:
    """A real committed write to the database file, and how many events the log holds."""
    try:
        get_ledger().check_writable(timeout=PROBE_TIMEOUT)
        return {"writable": True, "events": get_store().event_count()}
    except sqlite3.Error as exc:
        log.error("readiness: the database refused a write: %s", exc)
        return {"writable": False, "error": str(exc)}


def _webhook_check() -> dict:
    """When the newest verified webhook arrived, and how long ago."""
    try:
        last = get_ledger().last_webhook_at()
    except sqlite3.Error as exc:
        return {"last_received_at": None, "age_seconds": None, "error": str(exc)}
    if last is None:
        return {"last_received_at": None, "age_seconds": None}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last))
    return {"last_received_at": stamp, "age_seconds": round(max(0.0, time.time() - last), 3)}


def _database_check() -> dict:
    """The file's size and free space in bytes, its vacuum mode, the oldest day kept in full and the latest folded."""
    try:
        return database_report(get_store(), current_app.config)
    except sqlite3.Error as exc:
        return {"error": str(exc)}


def _reconciler_check() -> dict:
    """The reconciler's last run, corrections and errors, or that it is not running in this process."""
    reconciler = current_app.extensions.get("console.reconciler")
    if reconciler is None:
        return {"started": False}
    return reconciler.describe()


@health.get("/readyz")
def readyz():
    """Ready when the store takes writes; the webhook feed and the reconciler are reported alongside."""
    store = _store_check()
    ready = store["writable"]
    report = {
        "store": store,
        "webhooks": _webhook_check(),
        "reconciler": _reconciler_check(),
        "database": _database_check(),
    }
    cluster = current_app.extensions.get("console.cluster")
    if cluster is not None:  # the distributed mode: ready only while this instance follows the stream
        report["cluster"] = cluster.describe()
        ready = ready and report["cluster"]["follower"]["connected"]
    report["status"] = "ready" if ready else "not ready"
    return jsonify(report), 200 if ready else 503
