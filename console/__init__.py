"""supervisor-console: a live web console for call-center supervisors on Telnyx Call Control."""

from __future__ import annotations

from console.web.app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
