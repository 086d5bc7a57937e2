"""Days past retention kept as queue figures: one row per folded day, and its figures per interval and queue.

The queues room computes a day's figures and decides when (console/queues/daily_figures.py); this
module only stores and reads them. A day counts as folded once its ``daily_folds`` row exists: the
figure rows are written first, in transactions of a few hundred rows, and the day's row last, so a
fold cut short by a crash is simply done again, and never read half made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from console.telnyx.events import format_timestamp, parse_timestamp

# The figures kept per interval and queue: the counts and sums the export's rates are made from.
FIGURE_COLUMNS = ("waiting", "longest_wait", "offered", "answered", "answered_in_target", "abandoned",
                  "short_abandoned", "abandoned_beyond_target", "left_otherwise", "total_answer_wait",
                  "handled", "total_handle", "in_conference")
ROW_COLUMNS = ("interval_start", "queue", "target_seconds", "target_goal", "formula", *FIGURE_COLUMNS)
WRITE_ROWS = 300


@dataclass(frozen=True)
class Fold:
    """One folded day: its date, the time zone whose midnights bound it, its span in UTC, its interval."""

    day: str
    zone: str
    start: datetime
    end: datetime
    step_seconds: int
    folded_at: datetime


def save(store, fold: Fold, rows: Iterable[dict]) -> int:
    """Keep a day's figure rows (dicts of ROW_COLUMNS), then mark the day folded; return how many rows."""
    rows = [[row[column] for column in ROW_COLUMNS] for row in rows]
    marks = ", ".join("?" for _ in ROW_COLUMNS)
    insert = (f"INSERT OR REPLACE INTO daily_figures (day, {', '.join(ROW_COLUMNS)}) VALUES (?, {marks})")
    with store._writing() as db:
        db.conn.execute("DELETE FROM daily_folds WHERE day = ?", [fold.day])
        db.conn.execute("DELETE FROM daily_figures WHERE day = ?", [fold.day])
    for first in range(0, len(rows), WRITE_ROWS):
        with store._writing() as db:
            db.conn.executemany(insert, [[fold.day, *row] for row in rows[first:first + WRITE_ROWS]])
    with store._writing() as db:
        db.conn.execute(
            "INSERT INTO daily_folds (day, zone, start_at, end_at, step_seconds, folded_at) VALUES (?, ?, ?, ?, ?, ?)",
            [fold.day, fold.zone, format_timestamp(fold.start), format_timestamp(fold.end), fold.step_seconds,
             format_timestamp(fold.folded_at)])
    return len(rows)


def find(store, day: str) -> Fold | None:
    """The fold of one day (YYYY-MM-DD), or None when the day is still kept in full."""
    rows = store._rows("SELECT day, zone, start_at, end_at, step_seconds, folded_at FROM daily_folds WHERE day = ?",
                       [day])
    if not rows:
        return None
    row = rows[0]
    return Fold(row["day"], row["zone"], parse_timestamp(row["start_at"]), parse_timestamp(row["end_at"]),
                row["step_seconds"], parse_timestamp(row["folded_at"]))


def figure_rows(store, day: str) -> list[dict]:
    """A folded day's figure rows, by interval then queue (an empty list for a day not folded)."""
    return store._rows(f"SELECT {', '.join(ROW_COLUMNS)} FROM daily_figures WHERE day = ?"
                       " ORDER BY interval_start, queue", [day])


def last_day(store) -> str | None:
    """The latest day folded, or None when none is."""
    return store._rows("SELECT max(day) AS day FROM daily_folds")[0]["day"]
