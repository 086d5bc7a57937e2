"""Stored rows as the pages read them: flags as bools, JSON parsed, bookkeeping hidden, names in words."""

from __future__ import annotations

import json

_FLAGS = {
    "playing", "speaking", "muted", "on_hold", "end_conference_on_exit",
    "soft_end_conference_on_exit", "keep_after_hangup", "deleted",
}
_JSON = {"whisper_call_control_ids", "recording_urls", "public_recording_urls"}


def decode(row: dict) -> dict:
    """A stored row as pages see it: no bookkeeping columns, flags as bools, JSON parsed."""
    decoded = {}
    for column, value in row.items():
        if column.startswith("_"):
            continue
        if column in _FLAGS:
            value = bool(value)
        elif column in _JSON and value is not None:
            value = json.loads(value)
        decoded[column] = value
    return decoded


def display_name(row: dict) -> str | None:
    """How a supervisor recognises a leg: its label, caller id name, number, or control id."""
    for column in ("label", "caller_id_name", "from_number", "call_control_id"):
        if row.get(column):
            return row[column]
    return None


def user_view(row: dict) -> dict:
    """A user row with `disabled` as a bool (the password hash stays: sign-in checks it)."""
    return dict(row) | {"disabled": bool(row["disabled"])}


def audit_view(row: dict) -> dict:
    """An audit row with its request parameters parsed back from JSON."""
    return dict(row) | {"parameters": json.loads(row["parameters"] or "{}")}


def conference_view(row: dict) -> dict:
    """A conference row plus who holds the floor, in words, and plain recording flags."""
    conference = decode(row)
    conference["floor_display_name"] = display_name({
        "label": conference.pop("floor_label"), "caller_id_name": conference.pop("floor_caller_id_name"),
        "from_number": conference.pop("floor_from_number"),
        "call_control_id": conference["floor_call_control_id"]})
    conference["recording"] = conference["recording_state"] == "recording"
    conference["recording_paused"] = conference["recording_state"] == "paused"
    return conference


def waiting_view(row: dict) -> dict:
    """A waiting call, its numbers taken from the call leg when the queue did not report them."""
    queued = decode(row)
    call_from, call_to = queued.pop("call_from_number"), queued.pop("call_to_number")
    queued["from_number"] = queued["from_number"] or call_from
    queued["to_number"] = queued["to_number"] or call_to
    queued["display_name"] = display_name(queued)
    return queued
