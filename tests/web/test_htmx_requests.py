"""Whether htmx sent a request is read through htmx-flask's `request.htmx`, never from HX-* headers by hand."""

from __future__ import annotations

import re
from pathlib import Path

from htmx_flask.requests import HtmxAwareRequest

from console import create_app

PACKAGE = Path(__file__).resolve().parents[2] / "console"


def test_the_app_gives_every_request_its_htmx_headers(tmp_path):
    app = create_app({"CONSOLE_DATABASE": str(tmp_path / "console.db"), "CONSOLE_DEMO": True})
    try:
        assert issubclass(app.request_class, HtmxAwareRequest)
        with app.test_request_context("/", headers={"HX-Request": "true", "HX-Boosted": "true"}):
            from flask import request
            assert request.htmx and request.htmx.boosted
        with app.test_request_context("/"):
            from flask import request
            assert not request.htmx
    finally:
        app.extensions["console.hub"].stop()
        app.extensions["console.store"].close()


def test_no_module_reads_an_hx_request_header_by_hand():
    by_hand = re.compile(r"""headers\.get\(\s*["']HX-|environ\.get\(\s*["']HTTP_HX_""")
    offenders = [str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
                 if by_hand.search(path.read_text(encoding="utf-8"))]
    assert offenders == [], "read request.htmx (htmx-flask) instead"
