"""Small figures shared by the benchmark's phases: quantiles and milliseconds."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float | None:
    """The `share` quantile (nearest rank) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds to one decimal (None stays None)."""
    return None if seconds is None else round(seconds * 1000, 1)
