"""A stand-in for an intranet's reverse proxy that serves the console under a URL prefix."""

from __future__ import annotations


class PrefixingProxy:
    """WSGI middleware doing what `location /console/ { proxy_pass http://console/; }` plus the usual
    X-Forwarded-* headers does: strip the prefix, say so in X-Forwarded-Prefix, name the client and host.

    Anything outside the prefix is answered here with a 404, as the proxy would, so a link that
    forgets the prefix never reaches the console.
    """

    def __init__(self, app, prefix: str = "/console", client_address: str = "203.0.113.9"):
        self.app = app
        self.prefix = prefix
        self.client_address = client_address
        self.outside: list[str] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            self.outside.append(path)
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not under the proxied prefix"]
        environ["PATH_INFO"] = path[len(self.prefix):] or "/"
        environ["HTTP_X_FORWARDED_PREFIX"] = self.prefix
        environ["HTTP_X_FORWARDED_FOR"] = self.client_address
        environ["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
        environ["HTTP_X_FORWARDED_HOST"] = environ.get("HTTP_HOST", "")
        return self.app(environ, start_response)
