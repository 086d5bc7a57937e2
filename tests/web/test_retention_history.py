"""Retention as History shows it: folded days keep their figures and KPI export, retained days do not change.

Six days of queue calls in Europe/Berlin (one of them the 23-hour day clocks go forward) are played
into a console keeping 2 days before today; every History page and export is read, a retention
round folds and prunes the three oldest days, and everything is read again.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import requests

from console import create_app
from console.config import ConfigError, load_settings
from console.queues.daily_figures import day_span
from console.queues.retention import Retention, get_retention
from console.state.store import Store
from tests.serve_process import READER, Served
from tests.state.test_retention import Clock, day_of_calls, play

BERLIN = ZoneInfo("Europe/Berlin")
DAYS = [date(2026, 3, 27) + timedelta(days=n) for n in range(6)]  # March 29 has 23 hours in Berlin
FOLDED, KEPT = DAYS[:3], DAYS[3:]
INTERVALS = (900, 3600, 86400)
OLDER = re.compile(r'<a href="([^"]+)" rel="next" data-page="older">')


@pytest.fixture
def console(tmp_path):
    database = tmp_path / "console.db"
    app = create_app({"CONSOLE_DATABASE": str(database), "CONSOLE_DEMO": True, "CONSOLE_RETENTION_DAYS": 2,
                      "CONSOLE_TIMEZONE": "Europe/Berlin"})
    app.config["PROPAGATE_EXCEPTIONS"] = True
    clock = Clock(day_span(DAYS[0], "Europe/Berlin")[0])
    writer = Store(str(database), clock=clock)
    writer.migrate()
    for number, day in enumerate(DAYS):
        play(writer, clock, day_of_calls(day_span(day, "Europe/Berlin")[0], 64, f"day{number}"))
    clock.now = datetime(2026, 4, 1, 10, tzinfo=BERLIN)
    try:
        yield app, clock
    finally:
        writer.close()
        app.extensions["console.hub"].stop()


def main_part(client, url: str) -> str:
    """What the page shows in <main> (the header's "data as of" clock left out)."""
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True).split('<main id="main" tabindex="-1">')[1].split("</main>")[0]


def history_pages(client, day: date) -> list[str]:
    """Every page of the day's History, following the queued calls' older links."""
    pages, url = [], f"/history?date={day}"
    while url:
        pages.append(main_part(client, url))
        found = OLDER.search(pages[-1].split('id="history-conferences"')[0])
        url = unescape(found.group(1)) if found else None
    return pages


def exports(client, day: date) -> dict:
    found = {f"kpis-{seconds}": client.get(f"/history/kpis.csv?date={day}&interval={seconds}").get_data(as_text=True)
             for seconds in INTERVALS}
    found["calls"] = client.get(f"/history/calls.csv?date={day}").get_data(as_text=True)
    return found


def everything(client) -> dict:
    found = {day: {"pages": history_pages(client, day), **exports(client, day)} for day in DAYS}
    found["elsewhere"] = {url: main_part(client, url) for url in (
        "/calls/day2-0060/timeline",  # the last folded day's evening: inside the figures' lookback, kept
        "/calls/day2-0063/timeline",  # played on a 24-hour schedule, it falls in the first day kept
        "/calls/day3-0000/timeline", "/calls/day5-0030/timeline", "/alerts")}
    return found


def test_folded_days_export_the_same_kpis_and_retained_days_do_not_change(console):
    app, clock = console
    client = app.test_client()
    before = everything(client)
    assert len(before[KEPT[0]]["pages"]) == 2  # the retained days page, and both pages are compared
    assert before[FOLDED[0]]["calls"].count("\n") == 65

    done = Retention(app, clock=clock, pause=0).run_round()
    assert done.folded == FOLDED and done.pruned["events"] > 0

    after = everything(client)
    for day in KEPT:
        assert after[day] == before[day], day
    assert after["elsewhere"] == before["elsewhere"]
    assert "day2-0063" in before["elsewhere"]["/calls/day2-0063/timeline"]
    for day in FOLDED:
        for seconds in INTERVALS:
            assert after[day][f"kpis-{seconds}"] == before[day][f"kpis-{seconds}"], (day, seconds)
        assert len(after[day]["kpis-900"].splitlines()) > 90 * 4  # 15-minute rows per queue and for all queues


def test_a_folded_day_shows_its_figures_and_says_its_calls_are_kept_as_figures_only(console):
    app, clock = console
    client = app.test_client()
    day = FOLDED[2]
    totals = list(csv.DictReader(io.StringIO(client.get(f"/history/kpis.csv?date={day}&interval=86400").text)))
    Retention(app, clock=clock, pause=0).run_round()
    page = main_part(client, f"/history?date={day}")
    assert "Calls older than 2 days are kept as daily figures only." in page
    assert 'id="history-calls"' not in page and "Queued calls as CSV" not in page
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]+)</td>\s*<td>(\d+)</td><td>(\d+)</td>', page)
    shown = {queue: (target, int(offered), int(answered)) for queue, target, offered, answered in rows}
    assert shown == {("All queues" if row["queue"] == "*" else row["queue"]):
                     (row["target"], int(row["offered"]), int(row["answered"])) for row in totals}
    assert shown["All queues"][1] > 50 and set(shown) == {"Billing", "Sales", "Support", "All queues"}


def test_a_folded_days_queued_calls_are_gone_and_its_kpis_come_only_in_whole_quarter_hours(console):
    app, clock = console
    client = app.test_client()
    Retention(app, clock=clock, pause=0).run_round()
    gone = client.get(f"/history/calls.csv?date={FOLDED[0]}")
    assert gone.status_code == 410
    assert "no longer kept: calls older than 2 days are kept as daily figures only" in gone.get_data(as_text=True)
    refused = client.get(f"/history/kpis.csv?date={FOLDED[0]}&interval=600")
    assert refused.status_code == 400
    assert "kept as 15-minute figures only" in refused.get_data(as_text=True)
    assert client.get(f"/history/calls.csv?date={KEPT[0]}").status_code == 200


def test_readyz_and_metrics_report_the_file_size_and_the_oldest_day_kept(console):
    app, clock = console
    client = app.test_client()
    database = client.get("/readyz").get_json()["database"]
    assert database["oldest_day_kept"] == "2026-03-27" and database["last_day_folded"] is None
    assert database["retention_days"] == 2 and database["bytes"] > 100_000
    rounds = get_retention(app)  # the app's own, whose batches the metrics count
    rounds.clock, rounds.pause = clock, 0
    rounds.run_round()
    database = client.get("/readyz").get_json()["database"]
    assert database["oldest_day_kept"] == "2026-03-30" and database["last_day_folded"] == "2026-03-29"
    metrics = client.get("/metrics").get_data(as_text=True)

    def reading(name: str) -> float:
        return float(re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE).group(1))
    assert reading("console_database_bytes") == database["bytes"]
    assert reading("console_oldest_day_kept_timestamp_seconds") == datetime(2026, 3, 30, tzinfo=BERLIN).timestamp()
    assert reading('console_retention_pruned_rows_total{table="events"}') > 1000


@pytest.mark.parametrize(("text", "value"), [("35", 35), ("0", 0), ("400", 400)])
def test_the_retention_setting_takes_whole_days(text, value):
    assert load_settings(environ={"CONSOLE_RETENTION_DAYS": text})["CONSOLE_RETENTION_DAYS"] == value


@pytest.mark.parametrize("text", ["-1", "two", "1.5"])
def test_the_retention_setting_refuses_anything_else_naming_it(text):
    with pytest.raises(ConfigError, match="CONSOLE_RETENTION_DAYS"):
        load_settings(environ={"CONSOLE_RETENTION_DAYS": text})


def test_the_retention_setting_defaults_to_35_days():
    assert load_settings(environ={})["CONSOLE_RETENTION_DAYS"] == 35


def test_serve_starts_retention_which_lets_a_new_file_shrink(tmp_path):
    served = Served(tmp_path, CONSOLE_RETENTION_DAYS="3")
    try:
        database = requests.get(served.url + "/readyz", headers=READER, timeout=5).json()["database"]
    finally:
        served.stop()
    assert database["auto_vacuum"] == "incremental"  # switched at start, before the first request
    assert database["retention_days"] == 3 and database["oldest_day_kept"] is None
