"""The live pages of a shift's start: the alerts page, queue rows' health, and every header's line bar.

``alerts`` is a page the hub serves: its list of alert entries is drawn again whenever an alert is
raised, folded, acknowledged or cleared (the keys ``alerts`` and ``alert:<queue>``). A dashboard
queue row shows its queue's health, so an alert or an answered call draws it again. Each header's
line bar belongs to whoever is signed in, so the hub pushes only a signal, to every page, when a
supervisor line changes; the signal then fetches the page's own bar (templates/_line_bar.html).
"""

from __future__ import annotations

import itertools
from datetime import datetime

from flask import current_app, get_template_attribute

from console.live.catalogue import LiveCatalogue
from console.live.pieces import Piece
from console.live.screens import conference_watches
from console.live.ui import drawn_at, oob, render_memo
from console.queues.acks import ALERTS_SHOWN, QueueHealth, alert_entries, queue_health
from console.queues.kpis import KpiSettings, period_start
from console.state.store import get_store

ALERTS_WATCH = "alerts"
LINE_SIGNAL_ID = "line-bar-signal"
# With a sliding KPI window (CONSOLE_KPI_WINDOW_SECONDS) calls leave the window as time passes: the
# queues' figures are drawn again this often when no event has done it.
SLIDING_REDRAW_SECONDS = 15
# Pages with a header but no subject; pages about a queue or a conference are added per tick.
HEADED_WATCHES = frozenset({"dashboard", "ended", ALERTS_WATCH, "supervisors", "agents"})


def health_now() -> dict[str, QueueHealth]:
    """Every queue's health, computed once per request or live tick (queue rows ask one by one)."""
    return render_memo("queue_health", None, lambda: queue_health(get_store(), current_app.config, drawn_at()))


def _alerts_macro(name: str):
    return get_template_attribute("_alerts.html", name)


class ShiftCatalogue(LiveCatalogue):
    """The pages' catalogue plus the alerts page, queue health and the line-bar signal."""

    def __init__(self):
        super().__init__()
        # Each signal differs from the last, so the hub never drops it as "nothing changed".
        self._signals = itertools.count(1)
        self._period = None  # the KPI period the queues' figures were last drawn in (see due_keys)

    def accepts(self, watch: str) -> bool:
        return watch == ALERTS_WATCH or super().accepts(watch)

    def due_keys(self, at: datetime) -> set[str]:
        """Every queue's key once the KPI period has moved on (the hub asks when idle).

        At midnight in CONSOLE_TIMEZONE the day's figures start again from nothing, and with a
        sliding window calls leave it as time passes; no event says so, and a queue nobody calls
        would otherwise show yesterday's service level all morning.
        """
        settings = KpiSettings.from_config(current_app.config)
        if settings.window_seconds > 0:
            period = int(at.timestamp() // SLIDING_REDRAW_SECONDS)
        else:
            period = period_start(at, settings)
        moved, self._period = self._period is not None and period != self._period, period
        return {f"queue:{queue['name']}" for queue in get_store().queues()} if moved else set()

    def atoms(self, keys: set[str]) -> list[tuple]:
        atoms = list(super().atoms(keys))
        alerted = sorted({key.partition(":")[2] for key in keys if key.startswith("alert:")})
        if alerted or ALERTS_WATCH in keys:
            atoms.append(("alert_list",))
        atoms += [("queue_row", name) for name in alerted if ("queue_row", name) not in atoms]
        if self._line_changed(keys):
            atoms.append(("line_bar_signal",))
        return atoms

    @staticmethod
    def _line_changed(keys: set[str]) -> bool:
        """Whether any key is about a supervisor or a supervisor line's call or participant."""
        lines = None
        for key in keys:
            kind, _, rest = key.partition(":")
            if kind == "supervisor":
                return True
            if kind in ("call", "participant"):
                lines = get_store().supervisor_lines() if lines is None else lines
                if (rest if kind == "call" else rest.partition(":")[2]) in lines:
                    return True
        return False

    def topics(self, atom: tuple) -> set[str]:
        if atom[0] == "alert_list":
            return {ALERTS_WATCH}
        if atom[0] == "line_bar_signal":
            store = get_store()
            return (set(HEADED_WATCHES) | {f"queue:{queue['name']}" for queue in store.queues()}
                    | conference_watches(store))
        return super().topics(atom)

    def _inputs(self, atom: tuple):
        if atom[0] == "queue_row":
            # The row shows its queue's health too: an alert or an answered call changes it alone.
            return ("queue", self._queue(atom[1]), self._health().get(atom[1]))
        return super()._inputs(atom)

    def _health(self) -> dict:
        return health_now()

    def _render_alert_list(self):
        entries = self._cached("alert_entries", lambda: alert_entries(get_store()))[:ALERTS_SHOWN]
        return Piece("alert-rows", str(_alerts_macro("alert_rows")(entries)), order=(0, "alerts"))

    def _render_line_bar_signal(self):
        return Piece(LINE_SIGNAL_ID, str(get_template_attribute("_line_bar.html", "line_bar_signal")(
            next(self._signals))), order=(0, "line-bar"))

    def snapshot(self, watch: str) -> tuple[list[str], set[str]]:
        if watch == ALERTS_WATCH:
            self._memo = {}
            return [str(oob(_alerts_macro("alert_rows")(alert_entries(get_store())[:ALERTS_SHOWN])))], set()
        return super().snapshot(watch)
