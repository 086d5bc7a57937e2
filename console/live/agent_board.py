"""The agent board as pages and live pushes draw it: the screen, and the one atom the hub redraws.

The board is one atom (``agent_board``, topic ``agents``): any change to a call, a participant or a
conference may move an agent, and the board is read with three queries whatever the number of
agents, so a tick that touches calls reads it once (and only when some page watches it). A push
carries only the cards that changed since the last push (each its own out-of-band swap) and the
state counts, so a big floor costs a few cards per tick, not the whole board. The clock moves a
card only when a wrap-up ends, which the page asks for itself (static/agents_board.js).
"""

from __future__ import annotations

from flask import current_app, get_template_attribute, request

from console.agents.board import (
    STATE_LABELS,
    board_cards,
    summary,
    teams,
    wrap_deadline,
    wrap_up_seconds,
)
from console.live.pieces import Piece
from console.live.ui import drawn_at, oob
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


def _macro(name: str):
    return get_template_attribute("_agents.html", name)


def board_snapshot() -> str:
    """The whole board for a page that just connected.

    Pushes stay measured from the last push, not from this: pages that connected earlier hold that
    one, and a card that changed since reaches them with the next push (and this page, again).
    """
    return str(oob(board_html()))


def _last_cards() -> dict:
    return current_app.extensions.setdefault("console.agent_board.drawn", {})


def board_piece() -> Piece:
    """The counts and every card that differs from the last push or snapshot, each swapped on its own."""
    screen = board_screen()
    held = _last_cards()
    before = held.get(request.script_root, {})
    now = {card.name: card for card in screen["cards"]}
    held[request.script_root] = now
    parts = [str(oob(_macro("agent_counts")(screen)))]
    # An agent added to the directory since has no card on the pages to swap: they appear on a reload.
    parts += [str(oob(_macro("agent_card")(card))) for name, card in now.items()
              if before.get(name) != card and (name in before or not before)]
    return Piece(BOARD_ID, "".join(parts), order=(0, BOARD_ID))
