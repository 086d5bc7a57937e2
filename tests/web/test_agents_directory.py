"""The agent directory page (readers and admins, CSRF, CSV import) and the Agent / Customer / Supervisor badges on pages."""

from __future__ import annotations

import io
import re

import pytest

from console import create_app
from console.access.users import add_user
from console.agents import directory
from console.state import agents as rows
from tests.agents.test_roles import a_conference_of_three
from tests.signing_in import signed_in_client

PASSWORD = "correct horse battery"
PEOPLE = {"vera": "viewer", "sam": "supervisor", "ada": "admin"}
CHANGES = [("/agents/directory", {"agent_name": "Mallory", "team": "X", "addresses": "+13125550166"}),
           ("/agents/directory/Alice/edit", {"agent_name": "Alice", "team": "X", "addresses": "+13125550166"}),
           ("/agents/directory/Alice/remove", {}),
           ("/agents/directory/import", {"csv_text": "Mallory,X,+13125550166\n"})]


@pytest.fixture
def app(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_SECRET_KEY": "agents-tests",
                      "TELNYX_BASE_URL": "http://127.0.0.1:9/v2", "TELNYX_API_KEY": "unused"})
    store = app.extensions["console.store"]
    for name, role in PEOPLE.items():
        add_user(store, name, role, PASSWORD)
    directory.add_agent(store, "Alice", "Support", ["sip:alice@agents.callcenter.example"])
    yield app
    app.extensions["console.hub"].stop()


def store_of(app):
    return app.extensions["console.store"]


def directory_now(app):
    return [(agent["name"], agent["team"], agent["addresses"]) for agent in rows.agents(store_of(app))]


@pytest.mark.parametrize("name", ["vera", "sam"])
def test_viewers_and_supervisors_read_the_directory_but_cannot_change_it(app, name):
    client = signed_in_client(app, name, PASSWORD)
    page = client.get("/agents/directory")
    assert page.status_code == 200
    assert "Alice" in page.text and "sip:alice@agents.callcenter.example" in page.text
    assert "Add an agent" not in page.text and "Import agents" not in page.text
    assert "Agent directory</a>" not in page.text  # the link lives in the admin's navigation
    before = directory_now(app)
    for path, form in CHANGES:
        assert client.post(path, data=form).status_code == 403, path
    assert directory_now(app) == before


def test_signed_out_visitors_are_sent_to_sign_in(app):
    answer = app.test_client().get("/agents/directory")
    assert answer.status_code in (302, 303) and "/login" in answer.headers["Location"]


def test_a_change_without_the_csrf_token_is_refused(app):
    client = signed_in_client(app, "ada", PASSWORD)
    client.environ_base.pop("HTTP_X_CSRF_TOKEN")
    for path, form in CHANGES:
        assert client.post(path, data=form).status_code == 403, path
    assert directory_now(app) == [("Alice", "Support", ["sip:alice@agents.callcenter.example"])]


def test_an_admin_adds_edits_and_removes_agents_with_clear_refusals(app):
    client = signed_in_client(app, "ada", PASSWORD)
    page = client.get("/agents/directory").text
    assert 'href="/agents/directory"' in page and "Agent directory" in page and 'name="csrf_token"' in page
    added = client.post("/agents/directory", data={"agent_name": "Bob", "team": "Sales",
                                                    "addresses": "+1 312 555 0102\nsip:Bob@PBX.example;transport=tls"})
    assert added.status_code == 303
    assert "Added Bob (+13125550102, sip:bob@pbx.example)." in client.get("/agents/directory").text
    taken = client.post("/agents/directory", data={"agent_name": "Carol", "team": "Sales",
                                                    "addresses": "sip:alice@agents.callcenter.example"})
    assert taken.status_code == 422
    assert "sip:alice@agents.callcenter.example already belongs to Alice; remove it there first." in taken.text
    assert 'value="Carol"' in taken.text, "the form keeps what the admin typed"
    bad = client.post("/agents/directory", data={"agent_name": "Carol", "team": "Sales", "addresses": "desk phone"})
    assert bad.status_code == 422 and "“desk phone” is neither an E.164 number" in bad.text
    empty = client.post("/agents/directory", data={"agent_name": " ", "team": "", "addresses": "+13125550103"})
    assert empty.status_code == 422 and "An agent needs a name." in empty.text
    edited = client.post("/agents/directory/Bob/edit", data={"agent_name": "Robert", "team": "Retention",
                                                             "addresses": "+13125550102"})
    assert edited.status_code == 303
    assert client.post("/agents/directory/Robert/remove").status_code == 303
    missing = client.post("/agents/directory/Robert/remove")
    assert missing.status_code == 422 and "There is no agent called Robert." in missing.text
    assert directory_now(app) == [("Alice", "Support", ["sip:alice@agents.callcenter.example"])]
    actions = [entry["endpoint"] for entry in store_of(app).audit_entries() if entry["endpoint"].startswith("agents.")]
    assert sorted(set(actions)) == ["agents.add", "agents.edit", "agents.remove"]


def test_an_admin_imports_a_csv_file_and_reads_what_each_line_did(app):
    client = signed_in_client(app, "ada", PASSWORD)
    csv_bytes = (b"name,team,addresses\nBob,Sales,+13125550102|sip:bob@pbx.example\n"
                 b"Carol,Sales,sip:alice@agents.callcenter.example\nAlice,Retention,sip:alice@agents.callcenter.example\n"
                 b"Dan,Sales,not a number\n")
    answer = client.post("/agents/directory/import", data={"file": (io.BytesIO(csv_bytes), "agents.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    outcomes = re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', answer.text)
    assert outcomes == [("2", "added"), ("3", "refused"), ("4", "updated"), ("5", "refused")]
    assert "Import: 2 of 4 lines refused" in answer.text
    assert "already belongs to Alice" in answer.text and "“not a number” is neither" in answer.text
    assert directory_now(app) == [("Alice", "Retention", ["sip:alice@agents.callcenter.example"]),
                                  ("Bob", "Sales", ["+13125550102", "sip:bob@pbx.example"])]
    nothing = client.post("/agents/directory/import", data={"csv_text": "  "})
    assert nothing.status_code == 422 and "Choose a CSV file" in nothing.text
    binary = client.post("/agents/directory/import", data={"file": (io.BytesIO(b"\xff\xfe\x00A"), "agents.csv")},
                         content_type="multipart/form-data")
    assert binary.status_code == 422 and "not UTF-8 text" in binary.text


def test_the_conference_page_labels_agent_customer_and_supervisor_everywhere(app):
    store = store_of(app)
    conference_id = a_conference_of_three(store)
    page = signed_in_client(app, "sam", PASSWORD).get(f"/conferences/{conference_id}").text
    badges = re.findall(r'<span class="badge badge-leg leg-(\w+)" data-leg-role="\w+" title="[^"]*">([^<]+)</span>', page)
    # Each card carries its badge; the customer's and agent's cards also offer "Whisper to …" with theirs.
    assert ("agent", "Agent · Alice") in badges and ("customer", "Customer") in badges
    assert ("supervisor", "Supervisor · sam") in badges
    words = re.search(r'<details class="audio-words".*?</details>', page, re.DOTALL).group(0)
    assert "Agent · Alice" in words and "Customer" in words and "(Agent)" in words
    assert re.search(r'class="node-note"[^>]*data-leg-role="agent"[^>]*>Agent · Alice<', page)
    assert re.search(r'class="node-note"[^>]*data-leg-role="customer"[^>]*>Customer<', page)
    timeline = signed_in_client(app, "sam", PASSWORD).get("/calls/customer/timeline").text
    assert re.search(r'data-leg-role="agent" title="Agent Alice, team Support">Agent · Alice</span> [^<]* joined conference',
                     timeline)
    assert re.search(r'<h1 id="timeline-heading">.*?data-leg-role="customer"', timeline, re.DOTALL)
