"""Who hears whom in a conference, from supervisor roles, mute and hold: the simulator's audio truth.

Roles follow the spec's words: barge and none hear everyone and are heard by everyone; monitor hears
everyone and is heard by no one; whisper hears everyone and is heard only by its whisper targets
(with no targets it is a monitor). A muted participant is heard by no one; a held participant hears
no one and is heard by no one (hold music aside).
"""

from __future__ import annotations

ROOM_ROLES = ("none", "barge")


def reaches(speaker: dict, listener: dict) -> bool:
    """Whether ``listener`` hears ``speaker`` (two different participants still in the conference)."""
    if speaker["call_control_id"] == listener["call_control_id"]:
        return False
    if speaker["muted"] or speaker["on_hold"] or listener["on_hold"]:
        return False
    role = speaker["supervisor_role"]
    if role in ROOM_ROLES:
        return True
    if role == "whisper":
        return listener["call_control_id"] in speaker["whisper_call_control_ids"]
    return False


def heard_by_room(speaker: dict) -> bool:
    """Whether everyone else could hear this participant, i.e. whether talking takes the floor."""
    return not speaker["muted"] and not speaker["on_hold"] and speaker["supervisor_role"] in ROOM_ROLES


def audio_paths(conference_id: str, participants: list[dict]) -> dict:
    """The audio truth of one conference: its participants and, per listener, the speakers it hears."""
    return {
        "conference_id": conference_id,
        "participants": [
            {
                "call_control_id": p["call_control_id"],
                "label": p.get("label"),
                "supervisor_role": p["supervisor_role"],
                "muted": p["muted"],
                "on_hold": p["on_hold"],
            }
            for p in participants
        ],
        "hears": {
            listener["call_control_id"]: sorted(
                speaker["call_control_id"] for speaker in participants if reaches(speaker, listener)
            )
            for listener in participants
        },
    }
