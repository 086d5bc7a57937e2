"""GET /wallboard: a dark, control-free board of queue figures for a TV in kiosk mode or an iframe.

The page holds one board fragment that reloads itself from /wallboard/board whenever the live hub
says queues changed (topic ``wallboard``) and every few seconds anyway, so it heals after a network
loss without anyone touching it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, request

from console.config import Threshold, parse_thresholds
from console.queues.alerts import (
    LEVELS,
    alert_clear_seconds,
    alert_min_calls,
    evaluate,
    get_watcher,
    level,
    metric_value,
    queue_level,
    shown_states,
    thresholds_for,
    worse,
)
from console.queues.charts import describe_series, sparkline
from console.queues.figures import figures_now, hour_series_now, kpi_settings
from console.queues.kpis import (
    ALL_QUEUES,
    FORMULA_WITH_ABANDONS,
    FORMULAS,
    QueueFigures,
    combine,
)
from console.state.store import get_store

wallboard = Blueprint("wallboard", __name__)

REFRESH_SECONDS = 5


def selected_queues(text: str | None) -> list[str]:
    """The ?queues=Sales,Support filter as a list (empty means every queue)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def worst(levels) -> str:
    """The worst of some levels ("ok" for none)."""
    return max(levels, key=LEVELS.index, default="ok")


def figure_levels(figure: QueueFigures, thresholds: Mapping[str, Threshold]) -> dict[str, str]:
    """Each watched figure's own level from the thresholds, as the wall colours it.

    Unlike the alerts, service level is judged on any number of calls (a 33 % against 80/20 is not
    "OK" just because few calls counted yet); without a service_level threshold, below the queue's
    goal is a warning. A zero (nobody waiting, no wait) is always normal, whatever the thresholds.
    """
    limits = dict(thresholds)
    limits.setdefault("service_level", Threshold(warning=figure.target.goal, critical=-1))
    levels = {}
    for metric, threshold in limits.items():
        value = metric_value(figure, metric)
        levels[metric] = level(metric, value, threshold)  # a zero is "ok" (see alerts.level)
    return levels


def tile_level(states: Mapping, name: str) -> str:
    """A queue tile's level (its worst metric), or the overall tile's (the worst of all)."""
    if name != ALL_QUEUES:
        return queue_level(states, name)
    return worst(state[0] for state in states.values())


def tile_view(figure, states: dict, series: dict, settings, fresh: Mapping | None = None,
              levels: Mapping[str, str] | None = None) -> dict:
    """One queue's (or the overall) tile: figures, their levels, the alert level and its sparklines.

    ``levels`` is what each figure says now (see figure_levels); ``states`` the alerts as shown,
    held ones included. The tile takes the worse of the two, so a held alert keeps its colour while
    the figure that eased shows plain; ``fresh`` is what the alerts alone say now: when the shown
    alert is worse, it is being held and the tile says it is recovering.
    """
    figures = figure.as_dict()
    name = figure.queue
    alert_level = tile_level(states, name)
    levels = dict(levels or {})
    depth = series.get(name, {}).get("depth", [])
    service = series.get(name, {}).get("service_level", [])
    label = "all queues" if name == ALL_QUEUES else name
    sl_formula = FORMULAS["service_level_abandons" if settings.formula == FORMULA_WITH_ABANDONS else "service_level"]
    return {
        **figures,
        "name": name,
        "label": "All queues" if name == ALL_QUEUES else name,
        "level": worst([alert_level, *levels.values()]),
        "alert_level": alert_level,
        "recovering": fresh is not None and worse(alert_level, tile_level(fresh, name)),
        "levels": levels,
        "oldest_enqueued_at": figure.oldest_enqueued_at,
        "sl_formula": sl_formula,
        "depth_chart": sparkline(depth, f"Callers waiting in {label}, last hour",
                                 describe_series("callers waiting", depth), css_class="sparkline spark-depth"),
        "sl_chart": sparkline(service, f"Service level in {label}, last hour",
                              describe_series("service level", service, "%"), top=100,
                              css_class="sparkline spark-sl"),
    }


def board_screen(store, config, queues: list[str], now: datetime | None = None, held: Mapping | None = None) -> dict:
    """Everything the board shows: an overall tile and one tile per (selected) queue.

    ``held`` is the alert watcher's recorded levels: an alert it still holds keeps its tile's colour.
    """
    now = now or datetime.now(UTC)
    settings = kpi_settings(config)
    figures = figures_now(store, config, now)
    series = hour_series_now(store, now, settings)
    table = parse_thresholds(config.get("CONSOLE_ALERT_THRESHOLDS") or "")
    fresh = evaluate(figures, table, alert_min_calls(config))
    states = shown_states(fresh, held or {})
    names = sorted(name for name in figures if name != ALL_QUEUES)
    if queues:
        names = [name for name in names if name in queues] + [name for name in queues if name not in figures]
    tiles = []
    for name in names:
        figure = figures.get(name)
        if figure is None:
            figure = QueueFigures(name, settings.target_for(name), formula=settings.formula)
        thresholds = thresholds_for(table, name)
        tile = tile_view(figure, states, series, settings, fresh, figure_levels(figure, thresholds))
        tile["thresholds"] = thresholds
        tiles.append(tile)
    # The big tile adds up the tiles beside it: all queues, or the ones chosen.
    overall_figures = figures[ALL_QUEUES]
    if queues:
        overall_figures = combine((figures[name] for name in names if name in figures), settings)
        states = {key: state for key, state in states.items() if key[0] in names}
        fresh = {key: state for key, state in fresh.items() if key[0] in names}
    overall = tile_view(overall_figures, states, series, settings, fresh)
    # The all-queues tile takes its colour from the worst queue on the board and names the ones not OK.
    overall["level"] = worst([overall["alert_level"], *(tile["level"] for tile in tiles)])
    overall["attention"] = [tile["label"] for tile in tiles if tile["level"] != "ok"]
    if queues:
        overall["label"] = "Selected queues"
    return {"overall": overall, "tiles": tiles, "formulas": FORMULAS, "as_of": now,
            "queues_filter": ",".join(queues), "refresh_seconds": REFRESH_SECONDS,
            "period": period_label(config), "clear_seconds": alert_clear_seconds(config)}


def figure_notes(config, queue: str) -> list[tuple[str, str]]:
    """How each wallboard figure is counted for one queue, and what colours it: the queue page's words
    (the wall itself shows none)."""
    settings = kpi_settings(config)
    target = settings.target_for(queue)
    service = FORMULAS["service_level_abandons" if settings.formula == FORMULA_WITH_ABANDONS else "service_level"]
    thresholds = thresholds_for(parse_thresholds(config.get("CONSOLE_ALERT_THRESHOLDS") or ""), queue)
    limits = "; ".join(f"{name.replace('_', ' ')} warning {limit.warning:g}, critical {limit.critical:g}"
                       for name, limit in thresholds.items()) or "none set"
    return [
        ("Waiting", FORMULAS["waiting"]), ("Longest wait", FORMULAS["longest_wait"]),
        (f"Service level {target.label}", (f"{service} Target {target.label}: {target.goal} % answered within "
                                           f"{target.seconds} s.")),
        ("Avg answer", FORMULAS["asa"]), ("Avg handle", FORMULAS["aht"]), ("Abandoned", FORMULAS["abandoned"]),
        ("Offered / answered", f"{FORMULAS['offered']} {FORMULAS['answered']}"),
        ("In conference", FORMULAS["in_conference"]),
        ("Colours", (f"Thresholds ({limits}). A figure past one shows Warning or Critical beside it; service level "
                     f"below {target.goal} % is at least a warning. Nobody waiting is always OK. The tile takes "
                     "its worst figure or its held alert.")),
    ]


def period_label(config) -> str:
    """Since midnight (zone) or the sliding window, in words."""
    window = int(config.get("CONSOLE_KPI_WINDOW_SECONDS") or 0)
    if window:
        return f"last {window // 60} min" if window >= 60 else f"last {window} s"
    return f"since midnight {config.get('CONSOLE_TIMEZONE') or 'UTC'}"


@wallboard.get("/wallboard")
def board_page():
    """The full-screen wallboard (opening it starts the app's alert watcher if it is not running)."""
    watcher = get_watcher(current_app._get_current_object()).start()
    queues = selected_queues(request.args.get("queues"))
    screen = board_screen(get_store(), current_app.config, queues, held=watcher.states)
    return render_template("wallboard.html", live_watch="wallboard", **screen)


@wallboard.get("/wallboard/board")
def board():
    """Only the board, for the page's own refreshes."""
    queues = selected_queues(request.args.get("queues"))
    held = get_watcher(current_app._get_current_object()).states
    return render_template("_wallboard.html", **board_screen(get_store(), current_app.config, queues, held=held))
