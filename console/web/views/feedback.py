"""How a control answers: the re-rendered control with a notice, an inline refusal, or a page.

Shared by the conference and queue controls. A successful command re-renders its control macro
with a success notice (saying so when Telnyx only answered after retries); a form the supervisor
must fix comes back with 422; a refusal from Telnyx goes through `telnyx_refused`, the one
handler for TelnyxError, which puts Telnyx's own words in the control's status line for htmx
and renders an error page for a plain form post. A request access refused (auth.Refused) is
answered the same way by `access_refused`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    g,
    get_template_attribute,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
)

from console.access.auth import Refused, is_socket
from console.ingest.bus import get_bus
from console.ingest.group_commit import IngestUnavailable
from console.telnyx.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    TelnyxError,
)
from console.telnyx.events import console_event
from console.web.paused import REFUSED

CONTROLS = "_controls.html"
BROWSER_RETRIES = 3


@dataclass(frozen=True)
class Retry:
    """An automatic re-send the browser makes after Telnyx rate-limited a command it never ran."""

    url: str
    delay: float
    values: dict


@dataclass(frozen=True)
class Notice:
    """What a control says after its command: success, information, or Telnyx's refusal."""

    kind: str
    text: str
    retry: Retry | None = None
    code: str | None = None  # Telnyx's HTTP status and error code: small print under the sentence


def note_retry(attempt: int, wait: float, error: TelnyxError) -> None:
    """TelnyxClient's on_retry hook: remember this request's retries so its answer can say so."""
    if has_request_context():
        g.setdefault("telnyx_retries", []).append((attempt, wait, error))


def report_retries(app: Flask) -> None:
    """Chain note_retry into the app's Telnyx client, keeping any hook already set."""
    client = app.extensions.get("console.telnyx")
    if client is None or getattr(client.on_retry, "notes_retries", False):
        return
    earlier = client.on_retry

    def hook(attempt, wait, error):
        note_retry(attempt, wait, error)
        if earlier is not None:
            earlier(attempt, wait, error)

    hook.notes_retries = True
    client.on_retry = hook


def _retries() -> list:
    return g.get("telnyx_retries") or []


def _retried_text() -> str:
    """A sentence on the retries the client made for this request, or nothing."""
    retries = _retries()
    if not retries:
        return ""
    waited = sum(wait for _, wait, _ in retries)
    why = ("Telnyx was rate-limiting" if any(isinstance(e, RateLimitError) for _, _, e in retries)
           else "Telnyx failed at first")
    count = len(retries)
    return f" ({why}; it worked after {count} {'retry' if count == 1 else 'retries'}, {waited:.1f} s of waiting.)"


def done(text: str) -> Notice:
    """A success notice, owning up to any retries it took."""
    return Notice("success", text + _retried_text())


def is_htmx() -> bool:
    """Whether htmx sent the request (so the answer is a fragment, not a page)."""
    return bool(request.htmx)


def macro(name: str) -> Callable[..., str]:
    """A control macro from _controls.html, the same one the pages render."""
    return get_template_attribute(CONTROLS, name)


def back_url() -> str:
    """Where a browser without JavaScript returns after a command: the page it came from."""
    referrer = request.referrer
    if referrer and urlsplit(referrer).netloc == request.host:
        return referrer
    return request.script_root + "/"


def answer(html: str, *, status: int = 200, title: str = "Please check the form"):
    """The fragment for htmx; for a plain form post, a redirect back (success) or a page (refusal)."""
    if is_htmx():
        return make_response(html, status)
    if status < 400:
        return redirect(back_url(), code=303)
    return make_response(render_template("control_page.html", title=title, fragment=html, back=back_url()), status)


def publish(event_type: str, payload: dict) -> None:
    """Record a change the console made, through the bus, so the read model and every page see it."""
    get_bus().publish(console_event(event_type, payload))


def confirmation(render: Callable[..., str], *args, needed: bool = True, **kwargs):
    """The inline "are you sure?": None once confirmed, else the control asking (or backing out)."""
    step = request.form.get("step", "")
    if not needed or step == "confirm":
        return None
    if step == "cancel":
        return answer(render(*args, notice=Notice("info", "Cancelled; nothing was changed."), **kwargs))
    return answer(render(*args, confirming=True, **kwargs))


# --- Telnyx's refusals ------------------------------------------------------------------------


def status_for(error: TelnyxError) -> int:
    """The status the console answers with: Telnyx's own 4xx, else a gateway error."""
    if isinstance(error, APITimeoutError):
        return 504
    if isinstance(error, APIStatusError) and 400 <= error.status < 500:
        return error.status
    return 502


def explain(error: TelnyxError) -> str:
    """Telnyx's refusal in words a supervisor can act on, led by Telnyx's own detail."""
    if isinstance(error, APIConnectionError):
        waited = "did not answer in time" if isinstance(error, APITimeoutError) else "could not be reached"
        return f"Telnyx {waited}, so the command may or may not have run; check before trying again."
    if not isinstance(error, APIStatusError):
        return f"Telnyx answered something the console could not read: {error}"
    words = (error.detail or error.title or "no detail given").rstrip(". ")
    field = (error.pointer or "").lstrip("/")
    where = f" ({field})" if field and field not in words else ""
    code = f", code {error.code}" if error.code else ""
    if isinstance(error, RateLimitError):
        return f"Telnyx is rate-limiting (HTTP 429{code}): {words}. Nothing was changed."
    return f"Telnyx refused (HTTP {error.status}{code}): {words}{where}."


def in_words(error: TelnyxError) -> tuple[str, str | None]:
    """Telnyx's refusal as a sentence to read first, and its HTTP status and code for the small print."""
    if not isinstance(error, APIStatusError):
        return explain(error), None
    words = (error.detail or error.title or "no detail given").rstrip(". ")
    field = (error.pointer or "").lstrip("/")
    where = f" ({field})" if field and field not in words else ""
    code = f"HTTP {error.status}" + (f", code {error.code}" if error.code else "")
    if isinstance(error, RateLimitError):
        return f"Telnyx is rate-limiting: {words}. Nothing was changed.", code
    return f"Telnyx refused: {words}{where}.", code


def _browser_retry(error: TelnyxError) -> Retry | None:
    """A 429 means Telnyx ran nothing, so the browser may send the same command again, a few times."""
    if not isinstance(error, RateLimitError) or not is_htmx():
        return None
    raw = request.form.get("_attempt", "1")
    attempt = int(raw) if raw.isdigit() else 1
    if attempt >= BROWSER_RETRIES:
        return None
    values = {name: request.form.getlist(name) for name in request.form if name != "_attempt"}
    values["_attempt"] = str(attempt + 1)
    return Retry(request.url, float(2 ** attempt), values)


def status_selector(target_id: str) -> str:
    """The CSS selector of the status line inside the control that sent the request."""
    safe = "".join(c if c.isalnum() or c in "-_" else f"\\{ord(c):x} " for c in target_id)
    return f"#{safe} [data-control-status]"


def _beside_the_control(html: str, status: int):
    """An htmx answer swapped into the status line of the control that sent the request."""
    response = make_response(html, status)
    target = request.htmx.target
    if target:
        response.headers["HX-Retarget"] = status_selector(target)
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def telnyx_refused(error: TelnyxError):
    """The one handler for TelnyxError: inline beside the control for htmx, else an error page."""
    g.telnyx_refusal = explain(error)  # the audit entry records Telnyx's own words
    text, code = in_words(error)
    retries = _retries()
    if retries:
        text += f" The console retried {len(retries)} times over {sum(w for _, w, _ in retries):.1f} s first."
    retry = _browser_retry(error)
    if retry is not None:
        text += f" Retrying in {retry.delay:.0f} s (attempt {retry.values['_attempt']} of {BROWSER_RETRIES})…"
    current_app.logger.warning("Telnyx refused %s %s: %s", request.method, request.path, error)
    html = macro("notice_line")(Notice("error", text, retry, code))
    status = status_for(error)
    if not is_htmx():
        page = render_template("control_page.html", title="Telnyx refused the command", fragment=html, back=back_url())
        return make_response(page, status)
    return _beside_the_control(html, status)


def stream_unavailable(error: IngestUnavailable):
    """The handler for IngestUnavailable (the distributed mode without Redis): the reason, beside the control or as a page."""
    text = str(error) if str(error).startswith("The console") else REFUSED
    current_app.logger.warning("refused %s %s: %s", request.method, request.path, error)
    if is_htmx():
        return _beside_the_control(macro("notice_line")(Notice("error", text)), 503)
    page = render_template("error.html", page_name="error",
                           error={"status": 503, "title": "Commands are paused", "detail": text})
    return make_response(page, 503)


def access_refused(refusal: Refused):
    """The handler for auth.Refused: plain words to the live socket, the control's status line for htmx, else a page."""
    if is_socket():
        return make_response(refusal.detail, refusal.status, {"Content-Type": "text/plain; charset=utf-8"})
    if is_htmx():
        return _beside_the_control(macro("notice_line")(Notice("error", refusal.detail)), refusal.status)
    page = render_template("error.html", page_name="error",
                           error={"status": refusal.status, "title": refusal.title, "detail": refusal.detail})
    return make_response(page, refusal.status)
