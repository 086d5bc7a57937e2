"""GET /agents: the agent board, every agent's state live; /agents/cards: the board alone, for its own refreshes.

Everyone signed in may look (console.access.auth.PERMISSIONS); the cards' supervise buttons post to
the supervision endpoints, which refuse a viewer, and are hidden from one. This blueprint also gives
templates the agent summary the wallboard shows (`agent_summary()`).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from console.agents.board import HANDLE_TIME_FORMULA
from console.live import agent_board as live_board

agent_board = Blueprint("agent_board", __name__)


@agent_board.record_once
def _setup(state) -> None:
    state.app.jinja_env.globals.update(agent_summary=live_board.agent_summary,
                                       handle_time_formula=HANDLE_TIME_FORMULA)


@agent_board.get("/agents")
def page():
    """Every agent's card: state and since when, the call they are on, today's calls and handle time."""
    return render_template("agents.html", page_name="agent_board", live_watch=live_board.WATCH,
                           board=live_board.board_screen())


@agent_board.get("/agents/cards")
def cards():
    """The board alone (the page fetches it when a wrap-up ends: no event marks that)."""
    return live_board.board_html()
