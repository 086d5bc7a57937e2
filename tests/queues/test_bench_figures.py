"""`supervisor-console bench --figures` at a tiny size: the log grows through each size and every figure is timed."""

from __future__ import annotations

import sqlite3

import pytest

from console.bench.figures import _sizes, measure_figures, report
from console.cli import build_parser


def test_a_tiny_run_times_each_size_and_the_old_computation_once(tmp_path):
    result = measure_figures(str(tmp_path), [300, 1200], 100_000)
    first, last = result["rows"]
    assert 300 <= first["events"] < 320 and 1200 <= last["events"] < 1220  # whole calls: a few over each size
    assert all(row[name] > 0 for row in result["rows"]
               for name in ("figures_ms", "sparklines_ms", "wallboard_ms", "alerts_ms", "dashboard_ms"))
    with sqlite3.connect(tmp_path / "figures.db") as db:  # /alerts is timed with alerts to fold
        raised, cleared = (db.execute("SELECT count(*) FROM events WHERE event_type = ?", [kind]).fetchone()[0]
                           for kind in ("console.alert.raised", "console.alert.cleared"))
    assert raised > 0 and raised == cleared
    assert first["old_figures_ms"] > 0 and "old_figures_ms" not in last
    text = report(result)
    assert "old computation at 3" in text and "largest against smallest" in text
    assert text.count("\n") == 5  # title, header, two sizes, the old way, the ratio


def test_sizes_must_be_ascending_whole_numbers():
    assert _sizes("10000,100000") == [10_000, 100_000]
    for wrong in ("100000,10000", "ten", "50"):
        with pytest.raises(SystemExit, match="--figure-sizes"):
            _sizes(wrong)


def test_the_bench_command_takes_the_figures_options():
    args = build_parser().parse_args(["bench", "--figures", "--figure-sizes", "1000,2000", "--figure-rate", "5000"])
    assert (args.figures, args.figure_sizes, args.figure_rate) == (True, "1000,2000", 5000)
