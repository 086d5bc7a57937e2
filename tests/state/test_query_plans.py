"""Every query a page, the hub, the reconciler or the alert watcher issues reads through an index.

A console is seeded with a realistic mix of everything (query_world.py), then every GET page and
fragment is loaded as an admin, the hub draws a snapshot and a tick for every watch kind, the
reconciler runs a pass and a nudged fetch, and the alert watcher a round, while every SQL statement
any connection runs is captured (``sqlite3.Connection.set_trace_callback``). Each distinct
statement is then put to ``EXPLAIN QUERY PLAN``: a full ``SCAN`` of a table that grows with time
fails the test, naming the statement and the code that ran it. Only the small tables in ``FIXED``
may be scanned, each for the reason given there.

One kind of scan is not a full one: a walk down an index in the order asked for, stopped by LIMIT
(``ORDER BY at DESC LIMIT 500``), reads the rows it returns. It passes only when the plan needs no
sort of its own (no "USE TEMP B-TREE FOR ORDER BY"), since a sorted result must read everything first.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from console import create_app
from console.telnyx import signing
from tests.state import query_world as world

# Tables that do not grow with traffic or time, so a scan of one costs the same on day 1 and day 300.
FIXED = {
    "users": "one row per person allowed to sign in, added by an admin",
    "supervisors": "one row per supervisor (their phone and line)",
    "queues": "one row per queue the center has configured; callers live in queue_calls",
    "kpi_queues": "one row per queue name the figures have met (kpi_facts.py), like queues",
    "agents": "the agent directory, kept by hand or imported",
    "agent_addresses": "the directory's numbers and SIP addresses, a few per agent",
    "webhook_activity": "a single row: when the last webhook came",
    "write_probes": "a single row: the readiness probe's write",
    "_sqlite_migrations": "one row per migration",
    "stream_position": "a single row: a distributed instance's place in the Redis stream",
    "sqlite_master": "the schema",
    "sqlite_schema": "the schema",
}

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_NULL = re.compile(r"([(,]\s*)NULL\b")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_TABLE_REF = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+\[?(\w+)\]?(?:\s+(?:AS\s+)?(?!WHERE|ON|JOIN|LEFT|INNER|"
                        r"CROSS|ORDER|GROUP|LIMIT|SET|VALUES|USING|UNION|NATURAL)(\w+))?", re.IGNORECASE)
_SCAN = re.compile(r"^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?")
_PLANNED = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "REPLACE")
_HERE = str(Path(__file__).resolve().parent.parent.parent / "console")


def normalise(sql: str) -> str:
    """The statement with its values taken out: one form however many times, and with whatever values, it ran."""
    text = _STRING.sub("?", sql)
    text = _NUMBER.sub("?", text)
    text = _NULL.sub(r"\1?", text)
    text = _NULL.sub(r"\1?", text)  # again for neighbours: (NULL, NULL)
    text = _LIST.sub("(?, …)", text)
    return " ".join(text.split())


# Functions every query passes through, which name no particular query.
_PLUMBING = {"select_rows", "_rows", "_logged", "_reading", "_writing", "__call__"}


def _caller() -> str:
    """The innermost frames in the console package, plumbing left out: which code ran the statement."""
    found = []
    for frame in reversed(traceback.extract_stack()[:-2]):
        if frame.filename.startswith(_HERE) and frame.name not in _PLUMBING:
            found.append(f"console{frame.filename[len(_HERE):]}:{frame.lineno} {frame.name}")
            if len(found) == 3:
                break
    return " ← ".join(found) or "(outside the console package)"


@dataclass
class Captured:
    """Each distinct statement form: one example as it ran, how often, and the code that first ran it."""

    examples: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    callers: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on: bool = False

    def __call__(self, sql: str) -> None:
        if not self.on or not sql.lstrip().upper().startswith(_PLANNED):
            return
        form = normalise(sql)
        with self.lock:
            if form not in self.examples:
                self.examples[form] = sql
                self.callers[form] = _caller()
            self.counts[form] = self.counts.get(form, 0) + 1


@pytest.fixture
def captured(monkeypatch):
    """Every statement run on any sqlite3 connection opened while the test runs."""
    capture = Captured()
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(capture)
        return connection

    monkeypatch.setattr(sqlite3, "connect", traced)
    return capture


def aliases(sql: str) -> dict[str, str]:
    """Names a plan may use for each table the statement reads (its own name and any alias)."""
    found = {}
    for table, alias in _TABLE_REF.findall(sql):
        found[table] = table
        if alias:
            found[alias] = table
    return found


def full_scans(connection: sqlite3.Connection, sql: str) -> list[str]:
    """The plan lines that read all of a table growing with time; empty when the statement uses indexes."""
    plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql)]
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    names = aliases(sql)
    sorts_everything = any(line.startswith("USE TEMP B-TREE FOR ORDER BY") for line in plan)
    limited = re.search(r"\bLIMIT\b", sql, re.IGNORECASE) is not None
    bad = []
    for line in plan:
        scan = _SCAN.match(line)
        if scan is None:
            continue
        table = names.get(scan.group(1), scan.group(1))
        if table in FIXED or table not in tables:  # a fixed table, or a subquery or CTE of the statement
            continue
        if scan.group(2) and limited and not sorts_everything:
            continue  # an ordered walk down an index that LIMIT stops
        bad.append(f"{line}   [{' | '.join(plan)}]")
    return bad


def test_every_query_reads_through_an_index(tmp_path, captured):
    key = signing.generate_signing_key()
    database = tmp_path / "console.db"
    app = create_app({"CONSOLE_DATABASE": str(database), "CONSOLE_SECRET_KEY": "plans",
                      "TELNYX_PUBLIC_KEY": signing.public_key_b64(key), "TELNYX_API_KEY": "KEY-plans",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2"})
    try:
        captured.on = True
        ids = world.seed(app)
        assert set(world.post_webhooks(app, key, ids)) == {200}
        ids = world.refresh(app, ids)
        statuses = world.load_pages(app, ids)
        world.tick_every_watch(app, ids)
        world.reconcile_and_watch(app, ids)
        captured.on = False
    finally:
        app.extensions["console.hub"].stop()
        watcher = app.extensions.get("console.alerts")
        if watcher is not None:
            watcher.stop()
    failed = {url: status for url, status in statuses.items() if status >= 400}
    assert not failed, f"pages that did not answer: {failed}"
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in rule.methods}
    missing = routes - set(world.get_urls(ids)) - set(world.NOT_PAGES)
    assert not missing, f"GET endpoints the test does not load (add them to query_world.get_urls): {sorted(missing)}"

    offenders = []
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for form, sql in sorted(captured.examples.items()):
            for line in full_scans(connection, sql):
                offenders.append(f"\n- {form}\n    run {captured.counts[form]}× from {captured.callers[form]}\n"
                                 f"    {line}")
    connection.close()
    assert len(captured.examples) > 50, "too few statements were captured for this test to mean anything"
    assert not offenders, "statements that read a whole table growing with time:" + "".join(offenders)
    stale = {name for name in FIXED if not name.startswith("sqlite_")} - tables
    assert not stale, f"FIXED names tables the database no longer has: {sorted(stale)}"


@pytest.mark.parametrize(("sql", "scans"), [
    ("SELECT * FROM events WHERE payload LIKE '%x%'", True),
    ("SELECT * FROM events WHERE id = 'x'", False),
    ("SELECT * FROM users", False),
    ("SELECT * FROM audit ORDER BY at DESC LIMIT 5", False),
    ("SELECT * FROM audit ORDER BY result LIMIT 5", True),
    ("SELECT c.* FROM conferences c JOIN participants p ON p.conference_id = c.id WHERE p.muted = 1", True),
])
def test_the_plan_check_tells_a_scan_from_an_index_read(tmp_path, sql, scans):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "plans"})
    app.extensions["console.hub"].stop()
    with sqlite3.connect(tmp_path / "console.db") as connection:
        assert bool(full_scans(connection, sql)) is scans, full_scans(connection, sql)
    connection.close()


def test_normalise_keeps_one_form_per_statement():
    assert normalise("SELECT * FROM t WHERE a = 'it''s' AND b IN (1, 2, 3) LIMIT 50") == \
        "SELECT * FROM t WHERE a = ? AND b IN (?, …) LIMIT ?"
    assert normalise("SELECT count(*) AS n FROM events") == "SELECT count(*) AS n FROM events"
