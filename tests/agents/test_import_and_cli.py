"""Importing agents from CSV (each line added, updated or refused on its own) and the `agent` commands."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from console.agents import addresses, commands, directory
from console.state import agents as rows
from console.state.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "agents.db"))
    store.migrate()
    yield store
    store.close()


GOOD_AND_BAD = """name,team,addresses
Alice,Sales,sip:alice@pbx.example;+13125550101
Bob,Support,+13125550102|SIP:Bob@PBX.example;transport=udp

Carol,Support,+13125550101
,Support,+13125550103
Dana,Billing,
Eli,Billing,+13125550105,sip:eli@pbx.example
Farah,Billing,call me maybe
alice,Retention,sip:alice@pbx.example
"""


def test_an_import_reports_each_line_and_stores_nothing_from_a_refused_one(store):
    report = directory.import_csv(store, GOOD_AND_BAD)
    outcomes = [(line.line, line.outcome, line.name) for line in report]
    assert outcomes == [(2, "added", "Alice"), (3, "added", "Bob"), (5, "refused", "Carol"), (6, "refused", ""),
                        (7, "refused", "Dana"), (8, "refused", "Eli"), (9, "refused", "Farah"),
                        (10, "updated", "alice")]
    words = {line.line: line.message for line in report}
    assert "+13125550101 already belongs to Alice" in words[5]
    assert "needs a name" in words[6]
    assert "needs at least one address" in words[7]
    assert "has 4 columns, not 3" in words[8] and "; or |" in words[8]
    assert "“call me maybe” is neither an E.164 number" in words[9]
    assert [(agent["name"], agent["team"], agent["addresses"]) for agent in rows.agents(store)] == [
        ("alice", "Retention", ["sip:alice@pbx.example"]),
        ("Bob", "Support", ["+13125550102", "sip:bob@pbx.example"]),
    ]
    # The number line 10 took from Alice is free again, and nothing of the refused lines was kept.
    assert rows.agent_at(store, "+13125550101") is None and rows.agent_at(store, "+13125550105") is None


def test_importing_the_same_file_again_changes_nothing(store):
    text = "Alice,Sales,sip:alice@pbx.example\nBob,Support,+13125550102\n"
    assert [line.outcome for line in directory.import_csv(store, text)] == ["added", "added"]
    assert [line.outcome for line in directory.import_csv(store, text)] == ["unchanged", "unchanged"]


def test_a_file_csv_cannot_read_refuses_the_rest_and_keeps_what_came_before(store):
    too_long = "x" * 200_000  # longer than the csv module reads in one field
    report = directory.import_csv(store, f"Alice,Sales,+13125550101\nBob,Support,{too_long}\nCarol,Sales,+13125550103\n")
    assert [line.outcome for line in report] == ["added", "refused"]
    assert "cannot be read as CSV" in report[-1].message
    assert [agent["name"] for agent in rows.agents(store)] == ["Alice"]


def test_a_semicolon_separates_addresses_but_a_sip_parameter_stays_with_its_uri():
    assert addresses.split("sip:bob@pbx.example;transport=udp;+13125550102 | +13125550103;;") == [
        "sip:bob@pbx.example;transport=udp", "+13125550102", "+13125550103"]
    # Words after a ";" are no parameter: they stay an address of their own, to be refused as one.
    assert addresses.split("sip:bob@pbx.example; extension 12") == ["sip:bob@pbx.example", "extension 12"]


def test_the_command_bodies_print_what_they_did(store, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    assert commands.add(store, "Alice", "Sales", ["sip:Alice@pbx.example", "+1 312 555 0101"], out, err) == 0
    assert out.getvalue() == "added Alice\tSales\t+13125550101; sip:alice@pbx.example\n"
    assert commands.add(store, "Bob", "Sales", ["+13125550101"], out, err) == 2
    assert "+13125550101 already belongs to Alice" in err.getvalue()
    csv_file = tmp_path / "agents.csv"
    csv_file.write_text("name,team,addresses\nCarol,Support,+13125550103\nDan,Support,nonsense\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert commands.import_file(store, str(csv_file), out, err) == 1
    assert "line 2: added Carol: Support: +13125550103" in out.getvalue()
    assert "1 added, 0 updated, 0 unchanged, 1 refused" in out.getvalue()
    assert "line 3: refused Dan" in err.getvalue()
    assert commands.import_file(store, str(tmp_path / "missing.csv"), out, err) == 2
    (tmp_path / "latin.csv").write_bytes("Zoë,Sales,+13125550109\n".encode("latin-1"))
    assert commands.import_file(store, str(tmp_path / "latin.csv"), out, err) == 2
    assert "not UTF-8" in err.getvalue()


def run_cli(*args, database):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "CONSOLE_"))}
    return subprocess.run([sys.executable, "-m", "console", "agent", *args, "--database", str(database)],
                          capture_output=True, text=True, timeout=60, env=env)


def test_the_agent_commands_from_the_shell(tmp_path):
    database = tmp_path / "cli.db"
    added = run_cli("add", "Alice", "--team", "Sales", "--address", "sip:alice@pbx.example",
                    "--address", "+13125550101", database=database)
    assert added.returncode == 0, added.stderr
    refused = run_cli("add", "Bob", "--address", "0800 CALL ME", database=database)
    assert refused.returncode == 2 and "“0800 CALL ME” is neither an E.164 number" in refused.stderr
    csv_file = tmp_path / "more.csv"
    csv_file.write_text("Bob,Support,+13125550102|sip:bob@pbx.example\n", encoding="utf-8")
    imported = run_cli("import", str(csv_file), database=database)
    assert imported.returncode == 0 and "line 1: added Bob" in imported.stdout
    listed = run_cli("list", database=database)
    assert listed.stdout.splitlines() == ["Alice\tSales\t+13125550101; sip:alice@pbx.example",
                                          "Bob\tSupport\t+13125550102; sip:bob@pbx.example"]
    assert run_cli("remove", "alice", database=database).returncode == 0
    missing = run_cli("remove", "Alice", database=database)
    assert missing.returncode == 2 and "no agent called Alice" in missing.stderr
    assert run_cli("list", database=database).stdout.splitlines() == ["Bob\tSupport\t+13125550102; sip:bob@pbx.example"]
