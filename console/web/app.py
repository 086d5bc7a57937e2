"""The application factory: the only place a console app is made."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from htmx_flask import Htmx

from console.access import audit, auth, embedding
from console.cluster.mode import start_cluster
from console.config import load_settings
from console.web import extensions, paused
from console.web.views import register_views

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def resource_dir(name: str) -> Path:
    """Find templates/ or static/: inside the package when installed, beside it in a checkout."""
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"cannot find the {name}/ folder next to or inside {PACKAGE_DIR}")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a console app from defaults, the environment and `config` overrides."""
    app = Flask(
        "console",
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
    )
    Htmx(app)  # request.htmx: whether htmx sent the request, and its other HX-* headers
    settings = load_settings(overrides=config)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings.get("CONSOLE_SECRET_KEY") or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = None

    extensions.init_app(app, create_app)
    register_views(app)
    auth.init_app(app)
    audit.init_app(app)
    embedding.init_app(app)
    paused.init_app(app)
    start_cluster(app)  # the distributed mode's follower and lease (nothing in the embedded mode)
    return app
