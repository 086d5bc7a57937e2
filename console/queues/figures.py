"""Queue figures for a period, read from the facts the store keeps with each event (console/state/kpi_facts.py).

``figures_now`` and ``figure_intervals`` give what ``kpis.compute`` and ``kpis.intervals`` give
over the event log (``figures_from_log`` and ``events_for`` still read it that way: the reference
the tests compare with), at the cost of what the period shows, not of the log's length:

* the events the figures may use start at a cut, ``LOOKBACK`` before the period (calls still
  waiting or talking may have started before it), as the log was read;
* departures and handle times come summed per queue (and per interval) from indexed time ranges;
* who waits and who is in a conference at a period's end comes from the episodes open then;
* a leg with events on both sides of the cut is folded again from its own events after the cut
  (what it would be had the log been read from there), its stored facts taken out of the sums.

Sums of seconds (answer waits, handle times) are added in another order than kpis.compute adds
them, so they may differ from it in the last bits of a float; every count, time and level is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.queues import figure_sums
from console.queues.charts import series_of
from console.queues.figure_sums import Sums
from console.queues.kpis import (
    ALL_QUEUES,
    KpiSettings,
    QueueFigures,
    combine,
    compute,
    period_start,
)
from console.state import kpi_reads
from console.state.kpi_facts import KpiRow, Replay, from_us, replay, to_us

KPI_EVENT_TYPES = ("call.enqueued", "call.dequeued", "call.hangup",
                   "conference.participant.joined", "conference.participant.left")
# Calls still waiting or still talking may have started before the period: look this far back for them.
LOOKBACK = timedelta(hours=12)
DEFAULT_SETTINGS = KpiSettings()


def kpi_settings(config: Mapping) -> KpiSettings:
    """The app's KPI settings (cached on nothing: settings are cheap to build)."""
    return KpiSettings.from_config(config)


def figures_now(store, config: Mapping, now: datetime | None = None) -> dict[str, QueueFigures]:
    """Figures per queue (and '*') for the current period."""
    now = now or datetime.now(UTC)
    settings = kpi_settings(config)
    start = period_start(now, settings)
    return _read(store, settings, start - LOOKBACK, [(start, now)])[0]


def figure_intervals(store, start: datetime, end: datetime, step: timedelta,
                     settings: KpiSettings = DEFAULT_SETTINGS) -> list[tuple[datetime, dict[str, QueueFigures]]]:
    """Figures for each interval [t, t+step) from start to end, as ``kpis.intervals`` over ``events_for``."""
    periods = []
    moment = start
    while moment < end:
        stop = min(moment + step, end)
        periods.append((moment, stop))
        moment = stop
    if not periods:
        return []
    return list(zip((begin for begin, _ in periods), _read(store, settings, start - LOOKBACK, periods)))


def hour_series_now(store, now: datetime, settings: KpiSettings,
                    step: timedelta = timedelta(minutes=5)) -> dict[str, dict[str, list]]:
    """The wallboard's sparklines: charts.hour_series over the last hour, from the facts."""
    return series_of(figure_intervals(store, now - timedelta(hours=1), now, step, settings))


def figures_from_log(store, config: Mapping, now: datetime | None = None) -> dict[str, QueueFigures]:
    """The figures the old way: every KPI event since the cut read from the log and folded by kpis.compute."""
    now = now or datetime.now(UTC)
    settings = kpi_settings(config)
    start = period_start(now, settings)
    return compute(events_for(store, start, now, until_end=False), now, settings, start=start)


def events_for(store, start: datetime, end: datetime, *, until_end: bool = True) -> list:
    """The KPI events from a lookback before `start` up to `end`, read from the log (the reference path)."""
    return store.logged_events_of_types(KPI_EVENT_TYPES, since=start - LOOKBACK, until=end if until_end else None)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Parts:
    """What the store says about one cut: sums per period, open episodes per period end, refolded legs."""

    first_enqueues: dict[str, int]
    sums: list[Sums]
    waiting: list[list[dict]]
    conferences: list[list[dict]]
    refolded: dict[str, list[KpiRow]]


def _read(store, settings: KpiSettings, cut: datetime,
          periods: list[tuple[datetime, datetime]]) -> list[dict[str, QueueFigures]]:
    """Figures for consecutive periods whose events start at `cut`."""
    cut_us = to_us(cut)
    spans = [(to_us(begin), to_us(stop)) for begin, stop in periods]
    with kpi_reads.snapshot(store) as connection:
        refold = kpi_reads.spanning_legs(connection, cut_us)
        sums = figure_sums.period_sums(connection, store, settings, spans)
        if refold:
            departures, handles = kpi_reads.stored_facts(connection, refold, spans[0][0], spans[-1][1])
            for index, (begin_us, stop_us) in enumerate(spans):
                figure_sums.subtract(sums[index], settings, [row for row in departures if begin_us <= row[0] < stop_us],
                                     [row for row in handles if begin_us <= row[0] < stop_us])
        parts = _Parts(
            first_enqueues=kpi_reads.first_enqueues(connection, cut_us),
            sums=sums,
            waiting=[kpi_reads.waiting_at(connection, cut_us, stop, refold) for _, stop in spans],
            conferences=[kpi_reads.in_conferences_at(connection, cut_us, stop, refold) for _, stop in spans],
            refolded=kpi_reads.leg_rows_between(connection, refold, cut_us, spans[-1][1]),
        )
    folds: dict[tuple[str, int], Replay] = {}  # a leg's events before each period end, folded once
    return [_assemble(settings, parts, index, begin, stop, folds) for index, (begin, stop) in enumerate(periods)]


class _Figures(dict):
    """Figures per queue, made on first mention as kpis.compute makes them."""

    def __init__(self, settings: KpiSettings):
        super().__init__()
        self.settings = settings

    def __missing__(self, queue: str) -> QueueFigures:
        figure = self[queue] = QueueFigures(queue, self.settings.target_for(queue), formula=self.settings.formula)
        return figure


def _assemble(settings: KpiSettings, parts: _Parts, index: int, begin: datetime, stop: datetime,
              folds: dict[tuple[str, int], Replay]) -> dict[str, QueueFigures]:
    figures = _Figures(settings)
    stop_us, begin_us = to_us(stop), to_us(begin)
    for queue, first_us in parts.first_enqueues.items():
        if first_us < stop_us:
            figures[queue]  # an enqueue in the lookback names the queue, as in kpis.compute
    sums = {queue: list(values) for queue, values in parts.sums[index].items()}
    for ccid, rows in parts.refolded.items():
        seen = sum(1 for row in rows if row.at_us < stop_us)
        if (ccid, seen) not in folds:
            folds[(ccid, seen)] = replay(rows[:seen])
        _refold(figures, sums, settings, folds[(ccid, seen)], begin_us)
    for queue, values in sums.items():
        # A queue is named by a departure or a handle time counted in the period (the others stay out).
        if values[0] + values[3] + values[4] + values[6] + values[7] > 0:
            _add_sums(figures[queue], values)
    for row in parts.waiting[index]:
        _wait(figures[row["queue"]], row["waiting"], from_us(row["oldest_us"]))
    for row in parts.conferences[index]:
        if row["queue"] is not None:  # a leg that never queued (an agent) is no queue's caller
            figures[row["queue"]].in_conference += row["legs"]
    for figure in figures.values():
        if figure.oldest_enqueued_at is not None:
            figure.longest_wait = max(0.0, (stop - figure.oldest_enqueued_at).total_seconds())
    result = dict(figures)
    result[ALL_QUEUES] = combine(result.values(), settings)
    return result


def _add_sums(figure: QueueFigures, values: list) -> None:
    answered, in_target, answer_wait, short, abandoned, beyond, other, handled, handle_seconds = values
    figure.answered += answered
    figure.answered_in_target += in_target
    figure.total_answer_wait += answer_wait
    figure.short_abandoned += short
    figure.abandoned += abandoned
    figure.abandoned_beyond_target += beyond
    figure.left += other
    figure.offered += answered + abandoned
    figure.handled += handled
    figure.total_handle += handle_seconds


def _wait(figure: QueueFigures, callers: int, oldest: datetime) -> None:
    figure.waiting += callers
    if figure.oldest_enqueued_at is None or oldest < figure.oldest_enqueued_at:
        figure.oldest_enqueued_at = oldest


def _refold(figures: _Figures, sums: Sums, settings: KpiSettings, folded: Replay, begin_us: int) -> None:
    """Add one leg folded from its events after the cut."""
    for episode in folded.waits:
        figures[episode.key]  # each enqueue names its queue
        if episode.until_us is None:
            _wait(figures[episode.key], 1, from_us(episode.since_us))
    for departure in folded.departures:
        if departure.at_us >= begin_us:
            figure_sums.add_departure(sums, settings, departure.queue, departure.outcome, departure.wait)
    for handle in folded.handles:
        if handle.at_us >= begin_us:
            figure_sums.add_handle(sums, handle.queue, handle.seconds)
    open_joins = sum(1 for episode in folded.joins if episode.until_us is None)
    if open_joins and folded.answered_from is not None:
        figures[folded.answered_from].in_conference += open_joins
