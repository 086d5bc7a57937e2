"""The supervisor's queue commands: queues, queued calls, and parked calls waiting for a place.

Telnyx sends no webhook when a queue is created, resized or deleted, or when a queued call's
keep_after_hangup changes, so after each such command the console publishes the change itself.
"""

from __future__ import annotations

from flask import Blueprint, request

from console.live.ui import render_memo
from console.state.store import get_store
from console.telnyx.client import get_telnyx
from console.web import forms
from console.web.views.feedback import answer, confirmation, done, macro, publish

queue_actions = Blueprint("queue_actions", __name__)


@queue_actions.record_once
def _setup(state) -> None:
    """The lookups the queue and parked-call macros call while rendering."""
    state.app.jinja_env.globals.update(
        parked_calls=parked_calls,
        queue_names=lambda: render_memo("queue_names", None, lambda: [q["name"] for q in get_store().queues()]),
    )


def parked_calls() -> list[dict]:
    """Answered calls in no conference and no queue: the ones a supervisor can place somewhere."""
    return render_memo("parked_calls", None, get_store().parked_calls)


def _queue(name: str) -> dict:
    return get_store().queue(name) or {"name": name}


def _queued_call(name: str, call_control_id: str) -> dict:
    for queued in get_store().queue_calls(name):
        if queued.get("call_control_id") == call_control_id:
            return queued
    return {"queue_name": name, "call_control_id": call_control_id}


def _synced(queue) -> None:
    if isinstance(queue, dict) and queue.get("name"):
        publish("console.queue.synced", queue)


# --- queues -----------------------------------------------------------------------------------


@queue_actions.post("/queues")
def create_queue():
    """Create a call queue."""
    form = forms.CreateQueueForm(request.form)
    render = macro("create_queue_control")
    if not form.validate():
        return answer(render(form=form), status=422)
    _synced(get_telnyx().create_queue(form.data["queue_name"], max_size=form.data.get("max_size")))
    return answer(render(notice=done(f"Queue {form.data['queue_name']} created.")))


@queue_actions.post("/queues/<path:name>/size")
def resize_queue(name):
    """Change how many calls a queue may hold."""
    form = forms.QueueSizeForm(request.form)
    render = macro("queue_size_control")
    if not form.validate():
        return answer(render(_queue(name), form=form), status=422)
    _synced(get_telnyx().update_queue(name, form.data["max_size"]))
    said = f"The queue holds at most {form.data['max_size']} calls."
    return answer(render(_queue(name), form=form, notice=done(said)))


@queue_actions.post("/queues/<path:name>/delete")
def delete_queue(name):
    """Delete a queue, after an inline "are you sure?"."""
    render = macro("queue_delete_control")
    asking = confirmation(render, _queue(name))
    if asking is not None:
        return asking
    get_telnyx().delete_queue(name)
    publish("console.queue.deleted", {"queue_name": name})
    return answer(render({"name": name, "deleted": True}, notice=done(f"Queue {name} deleted.")))


# --- queued calls -----------------------------------------------------------------------------


@queue_actions.post("/queues/<path:name>/calls/<path:call_control_id>/keep")
def keep_after_hangup(name, call_control_id):
    """Say whether a queued call keeps its place after the caller hangs up."""
    form = forms.QueuedCallForm(request.form)
    render = macro("queued_call_keep_control")
    if not form.validate():
        return answer(render(_queue(name), _queued_call(name, call_control_id), form=form), status=422)
    keep = form.data["keep_after_hangup"]
    get_telnyx().update_queue_call(name, call_control_id, keep)
    publish("console.queue_call.synced", {"queue_name": name, "call_control_id": call_control_id,
                                          "keep_after_hangup": keep})
    said = "Keeps its place after hangup." if keep else "Leaves the queue on hangup."
    return answer(render(_queue(name), _queued_call(name, call_control_id), form=form, notice=done(said)))


@queue_actions.post("/queues/<path:name>/calls/<path:call_control_id>/remove")
def remove_queued_call(name, call_control_id):
    """Force a queued call out of the queue, after an inline "are you sure?"."""
    render = macro("queued_call_exit_control")
    asking = confirmation(render, _queue(name), _queued_call(name, call_control_id))
    if asking is not None:
        return asking
    get_telnyx().remove_queue_call(name, call_control_id)
    return answer(render(_queue(name), _queued_call(name, call_control_id), notice=done("Removed from the queue.")))


@queue_actions.post("/calls/<path:call_control_id>/leave-queue")
def leave_queue(call_control_id):
    """Take a call out of its queue (it goes back to parked)."""
    name = request.form.get("queue_name", "")
    get_telnyx().leave_queue(call_control_id)
    render = macro("queued_call_exit_control")
    said = "Leaving the queue; Telnyx will confirm."
    return answer(render(_queue(name), _queued_call(name, call_control_id), notice=done(said)))


# --- parked calls -----------------------------------------------------------------------------


@queue_actions.get("/calls/parked")
def parked_calls_panel():
    """The parked calls and what can be done with them, afresh when the panel opens."""
    return macro("parked_calls_panel")()


@queue_actions.post("/calls/<path:call_control_id>/enqueue")
def enqueue(call_control_id):
    """Put a parked call into a queue (Telnyx creates the queue if it is new)."""
    call = get_store().call(call_control_id) or {"call_control_id": call_control_id}
    form = forms.EnqueueForm(request.form)
    render = macro("enqueue_control")
    if not form.validate():
        return answer(render(call, form=form), status=422)
    options = dict(form.data)
    get_telnyx().enqueue(call_control_id, options.pop("queue_name"), **options)
    return answer(render(call, form=form, notice=done("Queued; the call appears in the queue when Telnyx confirms.")))
