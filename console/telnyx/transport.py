"""How a request travels to Telnyx: one session, bearer auth, safe paths, retries, envelopes and pages.

One ``requests.Session`` carries every request; the base URL, bearer auth, JSON headers, timeout
and retry policy live here so the endpoint methods (client.py) only name the command. Failures
become the typed errors of errors.py, chosen in one place, :func:`error_for`.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Self
from urllib.parse import quote

import requests

from console.telnyx.errors import (
    APIConnectionError,
    APITimeoutError,
    TelnyxError,
    error_for,
)

# Retries and answers are the client's story, so they are logged under its name.
log = logging.getLogger("console.telnyx.client")

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
INITIAL_RETRY_WAIT = 0.5
# RFC 3986 pchar minus the unreserved set quote() already keeps: ':' and '@' stay raw.
PATH_SAFE = "!$&'()*+,;=:@"


def _package_version() -> str:
    """The installed package's version, for the User-Agent Telnyx sees."""
    try:
        return importlib.metadata.version("supervisor-console")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


USER_AGENT = f"supervisor-console/{_package_version()}"


def _segment(value: Any) -> str:
    """Percent-encode one path segment; refuse values that would change the path's shape."""
    text = str(value)
    if text in ("", ".", ".."):
        raise ValueError(f"{text!r} cannot be used as a Telnyx id or name")
    return quote(text, safe=PATH_SAFE)


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def compact(fields: dict) -> dict:
    """Drop options the caller left as None, so Telnyx applies its defaults."""
    return {name: value for name, value in fields.items() if value is not None}


class _BearerAuth(requests.auth.AuthBase):
    """Adds the API key as a bearer token without ever showing it in a repr."""

    def __init__(self, api_key: str):
        self._api_key = api_key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(api_key=[redacted])"


class TelnyxTransport:
    """Sends one Telnyx request with retries and unwraps its answer; the client names the endpoints."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = 10.0,
        max_retries: int = 2,
        max_retry_wait: float = 8.0,
        on_retry: Callable[[int, float, TelnyxError], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.on_retry = on_retry
        self._api_key = api_key
        self._auth = _BearerAuth(api_key) if api_key else None
        self._sleep = sleep
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        """Release pooled connections, unless the session belongs to the caller."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _request(self, method: str, segments: tuple, *, params=None, body=None):
        """Send one call with retries and return the decoded JSON body, or None when empty."""
        path = "/" + "/".join(_segment(s) for s in segments)
        # A POST is only safe to repeat when Telnyx can recognise the repeat by command_id.
        repeatable = method != "POST" or bool(body and body.get("command_id"))
        attempt = 0
        while True:
            response = None
            try:
                response = self._session.request(
                    method, self.base_url + path, params=params, json=body,
                    headers=self._headers, auth=self._auth, timeout=self.timeout,
                )
            except requests.Timeout as exc:
                error = APITimeoutError(f"Telnyx did not answer {method} {path} in time ({_name(exc)})")
                error.__cause__ = exc
            except requests.RequestException as exc:
                error = APIConnectionError(f"could not reach Telnyx for {method} {path} ({_name(exc)})")
                error.__cause__ = exc
            else:
                log.debug("Telnyx %s %s -> %s", method, path, response.status_code)
                if response.status_code < 400:
                    return self._decode(response, method, path)
                error = error_for(response, redact=self._api_key)
            if not repeatable or attempt >= self.max_retries or not _should_retry(response):
                raise error
            attempt += 1
            wait = self._retry_wait(attempt, response)
            log.warning("Telnyx %s %s failed (%s); retry %d of %d in %.2f s",
                        method, path, error, attempt, self.max_retries, wait)
            if self.on_retry is not None:
                self.on_retry(attempt, wait, error)
            self._sleep(wait)

    @staticmethod
    def _decode(response: requests.Response, method: str, path: str):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TelnyxError(f"Telnyx answered {method} {path} with a body that is not JSON") from None

    def _retry_wait(self, attempt: int, response: requests.Response | None) -> float:
        """Seconds to wait before retry number ``attempt``: the server's hint, else jittered backoff."""
        hinted = _retry_after(response) if response is not None else None
        if hinted is None:
            hinted = min(INITIAL_RETRY_WAIT * 2 ** (attempt - 1), self.max_retry_wait)
            hinted *= 1 - 0.25 * random.random()
        return min(hinted, self.max_retry_wait)

    def _call(self, method: str, *segments, params=None, body=None):
        """Send a request and unwrap the ``data`` envelope."""
        decoded = self._request(method, segments, params=params, body=body)
        return decoded.get("data") if isinstance(decoded, dict) and "data" in decoded else decoded

    def _command(self, *segments, **fields):
        """POST a command whose schema has ``command_id``, minting one so retries are safe."""
        body = compact(fields)
        body.setdefault("command_id", str(uuid.uuid4()))
        return self._call("POST", *segments, body=body)

    def _pages(self, segments: tuple, filters: dict, page_size: int) -> Iterator[dict]:
        """Yield every item of a page-number list, stopping at ``meta.total_pages``."""
        number = 1
        while True:
            params = {k: _query_value(v) for k, v in compact(filters).items()}
            params.update({"page[number]": str(number), "page[size]": str(page_size)})
            envelope = self._request("GET", segments, params=params) or {}
            items = envelope.get("data") if isinstance(envelope, dict) else None
            meta = envelope.get("meta") if isinstance(envelope, dict) else None
            if not isinstance(items, list):
                return
            meta = meta if isinstance(meta, dict) else {}
            reported = meta.get("page_number")
            # A server that ignores page[number] would otherwise hand back page 1 again.
            if _is_int(reported) and reported != number:
                return
            yield from items
            total = meta.get("total_pages")
            if not items or not _is_int(total) or number >= total:
                return
            number += 1


def _name(exc: Exception) -> str:
    return type(exc).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _should_retry(response: requests.Response | None) -> bool:
    """Whether a failure is worth repeating; the server's ``x-should-retry`` wins."""
    if response is None:
        return True
    verdict = response.headers.get("x-should-retry", "").lower()
    if verdict in ("true", "false"):
        return verdict == "true"
    return response.status_code in (408, 409, 429) or response.status_code >= 500


def _retry_after(response: requests.Response) -> float | None:
    """The server's requested wait in seconds, from the first usable rate-limit header."""
    headers = response.headers
    for name, unit in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = _seconds(headers.get(name))
        if value is not None:
            return value / unit
    when = email.utils.parsedate_tz(headers.get("retry-after") or "")
    if when is not None:
        return max(0.0, email.utils.mktime_tz(when) - time.time())
    if response.status_code == 429:
        return _seconds(headers.get("x-ratelimit-reset"))
    return None


def _seconds(raw: str | None) -> float | None:
    """A non-negative finite number from a header, or None."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None
