"""Server-rendered SVG sparklines (no chart library): a polyline with a <title> and <desc> for screen readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from markupsafe import Markup, escape

from console.queues.kpis import KpiSettings, QueueFigures, intervals

WIDTH = 160
HEIGHT = 40


def points(values: Sequence[float | None], width: int = WIDTH, height: int = HEIGHT,
           top: float | None = None) -> str:
    """The polyline points for values (gaps where a value is None are drawn at the previous height)."""
    known = [value for value in values if value is not None]
    if not values or not known:
        return ""
    ceiling = top if top is not None else max(max(known), 1)
    step = width / max(len(values) - 1, 1)
    last = known[0]
    coordinates = []
    for index, value in enumerate(values):
        last = value if value is not None else last
        y = height - 2 - (height - 4) * (min(last, ceiling) / ceiling if ceiling else 0)
        coordinates.append(f"{index * step:.1f},{y:.1f}")
    return " ".join(coordinates)


def sparkline(values: Sequence[float | None], title: str, desc: str, *, top: float | None = None,
              css_class: str = "sparkline") -> Markup:
    """An inline SVG sparkline, labelled for assistive technology."""
    line = points(values, top=top)
    body = f'<polyline points="{line}" />' if line else ""
    return Markup(
        f'<svg class="{escape(css_class)}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" focusable="false" preserveAspectRatio="none">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{body}</svg>"
    )


def describe_series(label: str, values: Sequence[float | None], unit: str = "") -> str:
    """A sentence summing up a series: first, last, lowest and highest."""
    known = [value for value in values if value is not None]
    if not known:
        return f"No {label} data in the last hour."
    return (f"{label.capitalize()} over the last hour: started at {known[0]:.0f}{unit}, now {known[-1]:.0f}{unit}, "
            f"lowest {min(known):.0f}{unit}, highest {max(known):.0f}{unit}.")


def hour_series(events: list, now: datetime, settings: KpiSettings | None = None,
                step: timedelta = timedelta(minutes=5)) -> dict[str, dict[str, list]]:
    """Per queue: depth at the end of each step and service level within each step, over the last hour."""
    return series_of(intervals(events, now - timedelta(hours=1), now, step, settings or KpiSettings()))


def series_of(rows: Sequence[tuple[datetime, Mapping[str, QueueFigures]]]) -> dict[str, dict[str, list]]:
    """Per queue: depth at the end of each interval and service level within it (rows as kpis.intervals gives)."""
    series: dict[str, dict[str, list]] = {}
    for index, (_moment, figures) in enumerate(rows):
        for queue, figure in figures.items():
            entry = series.setdefault(queue, {"depth": [None] * len(rows), "service_level": [None] * len(rows)})
            entry["depth"][index] = figure.waiting
            entry["service_level"][index] = figure.service_level
    for entry in series.values():
        entry["depth"] = [value or 0 for value in entry["depth"]]
    return series
