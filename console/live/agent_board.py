"""The agent board as pages and live pushes draw it: the screen, and the one atom the hub redraws.

The board is one atom (``agent_board``, topic ``agents``): any change to a call, a participant or a
conference may move an agent, and the board is read with three queries whatever the number of
agents, so a tick that touches calls redraws it once (and only when some page watches it). What it
shows depends on the clock only through wrap-up ending, which the page asks for itself.
"""

from __future__ import annotations

from flask import current_app, get_template_attribute

from console.agents.board import STATE_LABELS, board_cards, summary, teams, wrap_deadline, wrap_up_seconds
from console.live.pieces import Piece
from console.live.ui import drawn_at
from console.state.store import get_store

WATCH = "agents"
BOARD_ID = "agent-board"
# Keys whose change can move an agent: their calls, their conference seats, their conferences.
MOVING_KINDS = ("call", "participant", "conference")


def board_screen(store=None, config=None, now=None) -> dict:
    """Every agent's card, the teams and states to filter by, the counts, and when a wrap-up next ends."""
    config = config if config is not None else current_app.config
    now = now or drawn_at()
    wrap_up = wrap_up_seconds(config)
    timezone = config.get("CONSOLE_TIMEZONE") or "UTC"
    cards = board_cards(store or get_store(), now, timezone=timezone, wrap_up=wrap_up)
    return {"cards": cards, "teams": teams(cards), "summary": summary(cards), "labels": STATE_LABELS,
            "wrap_up": wrap_up, "wrap_until": wrap_deadline(cards, wrap_up), "timezone": timezone}


def agent_summary() -> dict:
    """The wallboard's agent tile: how many agents are in each state."""
    return board_screen()["summary"]


def moves_agents(keys: set[str]) -> bool:
    return any(key.partition(":")[0] in MOVING_KINDS for key in keys)


def board_html(screen: dict | None = None) -> str:
    return str(get_template_attribute("_agents.html", "agent_board")(screen or board_screen()))


def board_piece() -> Piece:
    return Piece(BOARD_ID, board_html(), order=(0, BOARD_ID))
