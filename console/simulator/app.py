"""The simulated Telnyx REST API: every conference, queue and call-leg path under ``/v2`` with the
real envelopes, pagination, validation and error bodies, REST chaos, and debug routes under ``/_sim``."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from console.simulator import errors, validation
from console.simulator.chaos import Chaos
from console.simulator.errors import WorldError
from console.simulator.world import World

log = logging.getLogger(__name__)

EXTENSION = "telnyx_simulator"
RATE_LIMITED_HEADERS = {"Retry-After": "1", "x-ratelimit-limit": "100", "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": "1"}

telnyx_api = Blueprint("telnyx_api", __name__)
debug_routes = Blueprint("simulator_debug", __name__)


@dataclass
class SimulatorRest:
    """What the REST app serves: the world, the chaos knobs, the API key, and a release for held requests."""

    world: World
    chaos: Chaos
    api_key: str | None
    release: threading.Event = field(default_factory=threading.Event)


def create_rest_app(world: World, chaos: Chaos, *, api_key: str | None, recording_base_url=None) -> Flask:
    """Build the Flask app serving ``/v2`` (Bearer ``api_key`` when set) and ``/_sim`` (no key)."""
    app = Flask(__name__)
    app.json.sort_keys = False
    app.extensions[EXTENSION] = SimulatorRest(world, chaos, api_key)
    if recording_base_url:
        world.recording_base_url = recording_base_url.rstrip("/")
    app.before_request(_learn_own_url)
    app.register_blueprint(telnyx_api, url_prefix="/v2")
    app.register_blueprint(debug_routes, url_prefix="/_sim")
    app.register_error_handler(WorldError, _world_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def release_held_requests(app: Flask) -> None:
    """Let requests held by a "timeout" fault answer now (call this when the server stops)."""
    app.extensions[EXTENSION].release.set()


def _sim() -> SimulatorRest:
    return current_app.extensions[EXTENSION]


def _world() -> World:
    return _sim().world


# -- responses and request bodies -------------------------------------------------------------

def _error_response(error: WorldError, headers=None) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    response.headers.update(headers or {})
    return response


def _world_error(error: WorldError) -> Response:
    if error.status == 429:
        return _error_response(error, RATE_LIMITED_HEADERS)
    return _error_response(error)


def _http_error(error: HTTPException) -> Response:
    """Werkzeug's own refusals, answered with documented statuses: 404 for no route (405 too), else 400."""
    if error.code in (404, 405):
        return _error_response(errors.route_not_found())
    return _error_response(errors.bad_request(error.description or "The request could not be read."))


def _unexpected_error(error: Exception) -> Response:
    log.exception("simulator failed on %s %s", request.method, request.path)
    return _error_response(errors.internal_error())


def _body() -> dict:
    """The JSON object sent; an empty body is ``{}``; anything else is a clean 400/422."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise errors.bad_encoding() from None
    except ValueError as exc:
        raise errors.bad_request(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise errors.bad_value(None, "The request body must be a JSON object.")
    return body


def _options(body: dict, *taken: str) -> dict:
    """The body fields other than those passed by name, and never ``self``, so no stray key collides with either."""
    return {key: value for key, value in body.items() if key not in taken and key != "self"}


def _one(data) -> Response:
    return jsonify({"data": data})


def _no_content() -> Response:
    return Response(status=204)


def _page(items: list, number: int, size: int) -> Response:
    """One page of a list with all four PaginationMeta fields."""
    start = (number - 1) * size
    total = len(items)
    meta = {"page_number": number, "page_size": size, "total_pages": -(-total // size), "total_results": total}
    return jsonify({"data": items[start:start + size], "meta": meta})


def _region() -> None:
    validation.query_choice(request.args, "region", validation.REGIONS)


# -- gatekeeping: our own URL, chaos, authentication ----------------------------------------------

def _learn_own_url() -> None:
    """Recording URLs point back at this server; learn its root URL from the first request if unset."""
    world = _world()
    if world.recording_base_url is None:
        world.recording_base_url = request.root_url.rstrip("/")


@telnyx_api.before_request
def _gate():
    """Suffer the next REST fault, if any, then demand the bearer key."""
    sim = _sim()
    fault = sim.chaos.take_rest_fault()
    if fault == "429":
        raise errors.too_many_requests()
    if fault == "500":
        raise errors.internal_error()
    if fault == "timeout":
        sim.release.wait(sim.chaos.timeout_seconds)
        raise errors.service_unavailable()
    if sim.api_key is not None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), sim.api_key.encode()):
            raise errors.unauthorized()


# -- /v2/calls -----------------------------------------------------------------------------------

@telnyx_api.post("/calls")
def dial():
    body = _body()
    return _one(_world().dial(body.get("connection_id"), body.get("to"), body.get("from"),
                              **_options(body, "connection_id", "to", "from", "from_")))


@telnyx_api.get("/calls/<call_control_id>")
def retrieve_call(call_control_id):
    return _one(_world().retrieve_call(call_control_id))


@telnyx_api.post("/calls/<call_control_id>/actions/hangup")
def hangup(call_control_id):
    return _one(_world().hangup(call_control_id, **_options(_body(), "call_control_id")))


@telnyx_api.post("/calls/<call_control_id>/actions/enqueue")
def enqueue(call_control_id):
    body = _body()
    return _one(_world().enqueue(call_control_id, body.get("queue_name"),
                                 **_options(body, "call_control_id", "queue_name")))


@telnyx_api.post("/calls/<call_control_id>/actions/leave_queue")
def leave_queue(call_control_id):
    return _one(_world().leave_queue(call_control_id, **_options(_body(), "call_control_id")))


@telnyx_api.post("/calls/<call_control_id>/actions/speak")
def speak_to_call(call_control_id):
    return _one(_world().speak_to_call(call_control_id, **_options(_body(), "call_control_id")))


# -- /v2/conferences -------------------------------------------------------------------------------

@telnyx_api.get("/conferences")
def list_conferences():
    number, size = validation.page(request.args)
    _region()
    status = validation.query_choice(request.args, "filter[status]", validation.CONFERENCE_STATUSES)
    name = request.args.get("filter[name]") or None
    return _page(_world().list_conferences(name=name, status=status), number, size)


@telnyx_api.post("/conferences")
def create_conference():
    body = _body()
    return _one(_world().create_conference(body.get("call_control_id"), body.get("name"),
                                           **_options(body, "call_control_id", "name")))


@telnyx_api.get("/conferences/<conference_id>")
def retrieve_conference(conference_id):
    _region()
    return _one(_world().retrieve_conference(conference_id, names=False))


@telnyx_api.get("/conferences/<conference_id>/participants")
def list_participants(conference_id):
    number, size = validation.page(request.args)
    _region()
    flags = {name: validation.query_flag(request.args, f"filter[{name}]")
             for name in ("muted", "on_hold", "whispering")}
    return _page(_world().list_participants(conference_id, **flags), number, size)


@telnyx_api.get("/conferences/<conference_id>/participants/<participant_id>")
def retrieve_participant(conference_id, participant_id):
    return _one(_world().retrieve_participant(conference_id, participant_id))


@telnyx_api.patch("/conferences/<conference_id>/participants/<participant_id>")
def update_participant(conference_id, participant_id):
    fields = _options(_body(), "conference_id", "participant_id")
    return _one(_world().update_participant(conference_id, participant_id, **fields))


@telnyx_api.post("/conferences/<conference_id>/actions/<action>")
def conference_action(conference_id, action):
    return _one(_world().conference_action(conference_id, action, _body()))


# -- /v2/queues ------------------------------------------------------------------------------------

@telnyx_api.get("/queues")
def list_queues():
    number, size = validation.page(request.args)
    return _page(_world().list_queues(), number, size)


@telnyx_api.post("/queues")
def create_queue():
    body = _body()
    return _one(_world().create_queue(body.get("queue_name"), body.get("max_size")))


@telnyx_api.get("/queues/<queue_name>")
def retrieve_queue(queue_name):
    return _one(_world().retrieve_queue(queue_name))


@telnyx_api.post("/queues/<queue_name>")
def update_queue(queue_name):
    return _one(_world().update_queue(queue_name, _body().get("max_size")))


@telnyx_api.delete("/queues/<queue_name>")
def delete_queue(queue_name):
    _world().delete_queue(queue_name)
    return _no_content()


@telnyx_api.get("/queues/<queue_name>/calls")
def list_queue_calls(queue_name):
    number, size = validation.page(request.args)
    return _page(_world().list_queue_calls(queue_name), number, size)


@telnyx_api.get("/queues/<queue_name>/calls/<call_control_id>")
def retrieve_queue_call(queue_name, call_control_id):
    return _one(_world().retrieve_queue_call(queue_name, call_control_id))


@telnyx_api.patch("/queues/<queue_name>/calls/<call_control_id>")
def update_queue_call(queue_name, call_control_id):
    _world().update_queue_call(queue_name, call_control_id, _body().get("keep_after_hangup"))
    return _no_content()


@telnyx_api.delete("/queues/<queue_name>/calls/<call_control_id>")
def remove_queue_call(queue_name, call_control_id):
    _world().remove_queue_call(queue_name, call_control_id)
    return _no_content()


# -- /_sim: debug and stimuli (no API key) -----------------------------------------------------------

@debug_routes.get("/state")
def state():
    return jsonify(_world().snapshot())


@debug_routes.get("/conferences/<conference_id>/audio")
def audio_paths(conference_id):
    return jsonify(_world().audio_paths(conference_id))


@debug_routes.route("/chaos", methods=["GET", "POST"])
def chaos():
    """Read the chaos knobs, or set them: rates, delay, timeout, ``fail_next``/``count``, ``clear``."""
    knobs = _sim().chaos
    if request.method == "POST":
        settings = _body()
        try:
            if settings.pop("clear", False):
                knobs.clear()
            fault = settings.pop("fail_next", None)
            count = settings.pop("count", 1)
            knobs.update(**settings)
            if fault is not None:
                knobs.fail_next(str(fault), int(count))
        except (TypeError, ValueError) as exc:
            raise errors.bad_value(None, str(exc)) from None
    return jsonify(knobs.as_dict())


@debug_routes.post("/calls")
def incoming_call():
    body = _body()
    for name in ("from", "to"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise errors.missing(name)
    return jsonify(_world().incoming_call(body["from"], body["to"], body.get("caller_id_name")))


@debug_routes.post("/calls/<call_control_id>/<stimulus>")
def call_stimulus(call_control_id, stimulus):
    """The phone network acts on a leg: ``answer``, ``hangup`` (cause, source), ``talk`` or ``dtmf`` (digits)."""
    world, body = _world(), _body()
    if stimulus == "answer":
        world.answer_call(call_control_id)
    elif stimulus == "hangup":
        world.remote_hangup(call_control_id, cause=body.get("cause", "normal_clearing"),
                            source=body.get("source", "caller"))
    elif stimulus == "talk":
        world.talk(call_control_id)
    elif stimulus == "dtmf":
        world.press_digits(call_control_id, str(body.get("digits", "")))
    else:
        raise errors.route_not_found()
    return jsonify({"result": "ok"})


@debug_routes.get("/recordings/<recording_id>.wav")
def recording(recording_id):
    return Response(_world().recording_wav(recording_id), mimetype="audio/wav")
