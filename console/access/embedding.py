"""Living behind an intranet's reverse proxy and inside its pages.

X-Forwarded-For/Proto/Host/Port/Prefix are believed only on requests whose peer address is one of
CONSOLE_TRUSTED_PROXIES (werkzeug's ProxyFix, one hop); from anywhere else they are ignored, so no
client can forge its address, the scheme or the URL prefix. Every response carries a strict
Content-Security-Policy: scripts, styles, fonts and images only from the console itself (no inline
script or style at all), the live socket only to the console's own host, and frame-ancestors from
CONSOLE_FRAME_ANCESTORS so an intranet portal can show the console in a frame.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from console.config import Network, parse_networks

# The address the request really came from, kept before ProxyFix swaps in X-Forwarded-For.
PEER = "console.peer_address"


def is_trusted(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether the address is inside one of the networks (IPv4-mapped IPv6 counts as IPv4)."""
    return _is_trusted(address, tuple(networks))


@functools.lru_cache(maxsize=4096)
def _is_trusted(address: str | None, networks: tuple[Network, ...]) -> bool:
    # Kept per peer: the same few proxies ask thousands of times a second.
    try:
        peer = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer.version == network.version and peer in network for network in networks)


def peer_address(environ: dict) -> str | None:
    """The address of whoever opened the connection to the console (the proxy, when there is one)."""
    return environ.get(PEER, environ.get("REMOTE_ADDR"))


def from_trusted_proxy() -> bool:
    """Whether this request reached the console through one of the trusted proxies."""
    return is_trusted(peer_address(request.environ), current_app.extensions.get("console.trusted_proxies", ()))


class TrustedProxies:
    """WSGI middleware: apply ProxyFix to requests from trusted proxies, and to no others."""

    def __init__(self, wsgi_app, networks: Iterable[Network]):
        self.wsgi_app = wsgi_app
        self.networks = tuple(networks)
        self.behind_proxy = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

    def __call__(self, environ, start_response):
        environ[PEER] = environ.get("REMOTE_ADDR")
        if self.networks and is_trusted(environ[PEER], self.networks):
            return self.behind_proxy(environ, start_response)
        return self.wsgi_app(environ, start_response)


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


@functools.lru_cache(maxsize=64)
def content_security_policy(telnyx_base_url: str | None, frame_ancestors: str | None, host: str) -> str:
    """The policy for answers to `host`: the console's own origin only, plus where recordings play from.

    Kept per host and settings: the same few answer every request.
    """
    media = ["'self'", "https:"]
    telnyx = _origin(telnyx_base_url)
    if telnyx and telnyx.startswith("http:"):
        media.append(telnyx)  # the simulator serves demo recordings over plain HTTP
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": f"'self' ws://{host} wss://{host}",
        "media-src": " ".join(media),
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors or "'self'",
    }
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def security_headers(config, host: str) -> list[tuple[str, str]]:
    """The CSP and its companions, as (name, value) pairs for an answer to `host`."""
    return list(_headers(config.get("TELNYX_BASE_URL"), config.get("CONSOLE_FRAME_ANCESTORS"), host))


@functools.lru_cache(maxsize=64)
def _headers(telnyx_base_url: str | None, frame_ancestors: str | None, host: str) -> tuple[tuple[str, str], ...]:
    headers = [("Content-Security-Policy", content_security_policy(telnyx_base_url, frame_ancestors, host))]
    ancestors = (frame_ancestors or "'self'").split()
    if ancestors == ["'self'"]:
        headers.append(("X-Frame-Options", "SAMEORIGIN"))  # for browsers that predate frame-ancestors
    elif ancestors == ["'none'"]:
        headers.append(("X-Frame-Options", "DENY"))
    headers += [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin")]
    return tuple(headers)


def add_security_headers(response):
    """after_request: the security headers on every answer."""
    for name, value in security_headers(current_app.config, request.host):
        response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Wrap the app in the trusted-proxy middleware and add the security headers to every answer."""
    networks = parse_networks(app.config.get("CONSOLE_TRUSTED_PROXIES"))
    app.extensions["console.trusted_proxies"] = networks
    app.wsgi_app = TrustedProxies(app.wsgi_app, networks)
    app.after_request(add_security_headers)
