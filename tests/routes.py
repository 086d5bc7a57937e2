"""Every route of a console app, with sample URLs, for tests that must cover each one."""

from __future__ import annotations

import itertools
from functools import cache

from werkzeug.routing import AnyConverter

from console import create_app

SAMPLE_VALUES = {
    "conference_id": "conf-sample",
    "call_control_id": "v3:sample-leg",
    "name": "sample-queue",
    "queue_name": "sample-queue",
    "user_name": "nobody-here",
}


def _sample_urls(app, rule) -> list[str]:
    """One URL per variant of an `any(...)` argument, sample values for the rest."""
    choices = []
    for argument in sorted(rule.arguments):
        converter = rule._converters[argument]
        if isinstance(converter, AnyConverter):
            choices.append([(argument, item) for item in sorted(converter.items)])
        else:
            choices.append([(argument, SAMPLE_VALUES.get(argument, "sample"))])
    adapter = app.url_map.bind("localhost")
    return [adapter.build(rule.endpoint, dict(values), method="POST") for values in itertools.product(*choices)]


@cache
def post_routes() -> tuple[tuple[str, str], ...]:
    """(endpoint, url) for every POST route, built from an app on an in-memory database."""
    app = create_app({"CONSOLE_DATABASE": ":memory:"})
    try:
        routes = []
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
            if "POST" in rule.methods:
                routes += [(rule.endpoint, url) for url in _sample_urls(app, rule)]
        return tuple(routes)
    finally:
        app.extensions["console.hub"].stop()
        app.extensions["console.store"].close()
