"""Call queues: creation (300 by REST, 100 by enqueue), FIFO positions that move up, average wait,
``max_wait_time_secs`` timeouts, ``keep_after_hangup`` and ``call.enqueued``/``call.dequeued``."""

from __future__ import annotations

from console.simulator import errors, validation
from console.simulator.records import Queue, QueuedCall

CREATED_BY_REST = 300
CREATED_BY_ENQUEUE = 100


class QueueOperations:
    """The queue half of the World (mixed into it; shares its lock, clock and records)."""

    def _queue(self, name) -> Queue:
        queue = self._queues.get(name)
        if queue is None:
            raise errors.not_found("queue_name")
        return queue

    def _queued(self, queue: Queue, call_control_id) -> QueuedCall:
        queued = queue.calls.get(call_control_id)
        if queued is None:
            raise errors.not_found("call_control_id")
        return queued

    def _new_queue(self, name: str, max_size: int) -> Queue:
        now = self._now()
        queue = Queue(id=self._new_id(), name=name, max_size=max_size, created_at=now, updated_at=now)
        self._queues[name] = queue
        return queue

    def create_queue(self, queue_name, max_size=None) -> dict:
        """``POST /queues``: a new empty queue (``max_size`` defaults to 300)."""
        fields = validation.validate("create_queue", {"queue_name": queue_name, "max_size": max_size})
        with self.lock:
            if fields["queue_name"] in self._queues:
                raise errors.queue_name_taken(fields["queue_name"])
            return self._new_queue(fields["queue_name"], fields.get("max_size", CREATED_BY_REST)).rest()

    def list_queues(self) -> list[dict]:
        """Every queue, oldest first."""
        with self.lock:
            return [q.rest() for q in self._queues.values()]

    def retrieve_queue(self, name) -> dict:
        with self.lock:
            return self._queue(name).rest()

    def update_queue(self, name, max_size) -> dict:
        """``POST /queues/{name}``: change the maximum size (calls already waiting stay)."""
        fields = validation.validate("update_queue", {"max_size": max_size})
        with self.lock:
            queue = self._queue(name)
            queue.max_size = fields["max_size"]
            queue.updated_at = self._now()
            return queue.rest()

    def delete_queue(self, name) -> None:
        """``DELETE /queues/{name}``: only an empty queue can go (400 90050 otherwise)."""
        with self.lock:
            queue = self._queue(name)
            if queue.calls:
                raise errors.queue_not_empty()
            del self._queues[name]

    def list_queue_calls(self, name) -> list[dict]:
        """The calls waiting in a queue, first in line first."""
        with self.lock:
            queue = self._queue(name)
            now = self._now()
            return [queue.rest_call(ccid, now) for ccid in queue.calls]

    def retrieve_queue_call(self, name, call_control_id) -> dict:
        with self.lock:
            queue = self._queue(name)
            self._queued(queue, call_control_id)
            return queue.rest_call(call_control_id, self._now())

    def update_queue_call(self, name, call_control_id, keep_after_hangup) -> None:
        """Say whether a queued call keeps its place after hanging up; a dead call not kept leaves."""
        fields = validation.validate("update_queue_call", {"keep_after_hangup": keep_after_hangup})
        with self.lock:
            queue = self._queue(name)
            queued = self._queued(queue, call_control_id)
            if "keep_after_hangup" in fields:
                queued.keep_after_hangup = fields["keep_after_hangup"]
            if not queued.call.alive and not queued.keep_after_hangup:
                self._dequeue(queued.call, "hangup")

    def remove_queue_call(self, name, call_control_id) -> None:
        """Take a call out of a queue, typically one kept after it hung up."""
        with self.lock:
            queued = self._queued(self._queue(name), call_control_id)
            self._dequeue(queued.call, "leave" if queued.call.alive else "hangup")

    def enqueue(self, call_control_id, queue_name, **options) -> dict:
        """``POST /calls/{id}/actions/enqueue``: put an answered call at the back of a queue."""
        fields = validation.validate("enqueue", {**options, "queue_name": queue_name})
        with self.lock:
            call = self._call(call_control_id, in_path=True)
            return self._once(("call", call.call_control_id), fields.get("command_id"),
                              lambda: self._enqueue(call, fields))

    def _enqueue(self, call, fields: dict) -> dict:
        self._require_answered(call)
        name = fields["queue_name"]
        if call.queue_name == name:
            raise errors.already_in_queue()
        queue = self._queues.get(name)
        if queue is not None and len(queue.calls) >= queue.max_size:
            raise errors.queue_full(name)
        if call.queue_name:
            self._dequeue(call, "leave")
        if call.conference_id:
            conference = self._conferences[call.conference_id]
            self._participant_gone(conference, conference.participants[call.call_control_id])
        if queue is None:
            queue = self._new_queue(name, fields.get("max_size", CREATED_BY_ENQUEUE))
        if fields.get("client_state"):
            call.client_state = fields["client_state"]
        now = self._now()
        queued = QueuedCall(call=call, enqueued_at=now, max_wait_time_secs=fields.get("max_wait_time_secs"),
                            keep_after_hangup=fields.get("keep_after_hangup", False))
        queue.calls[call.call_control_id] = queued
        queue.updated_at = now
        call.queue_name = name
        self._call_event("call.enqueued", call, current_position=queue.position(call.call_control_id),
                         queue=name, queue_avg_wait_time_secs=queue.average_wait())
        if queued.max_wait_time_secs:
            self._schedule(now + queued.max_wait_time_secs, lambda: self._wait_expired(queue, queued))
        return {"result": "ok"}

    def _wait_expired(self, queue: Queue, queued: QueuedCall) -> None:
        if queue.calls.get(queued.call.call_control_id) is queued and self._queues.get(queue.name) is queue:
            self._dequeue(queued.call, "timeout")

    def leave_queue(self, call_control_id, **options) -> dict:
        """``POST /calls/{id}/actions/leave_queue``: the call leaves its queue and stays parked."""
        fields = validation.validate("leave_queue", options)
        with self.lock:
            call = self._call(call_control_id, in_path=True)
            return self._once(("call", call.call_control_id), fields.get("command_id"),
                              lambda: self._leave_queue(call, fields))

    def _leave_queue(self, call, fields: dict) -> dict:
        if not call.alive:
            raise errors.call_ended()
        if not call.queue_name:
            raise errors.bad_value(None, "The call is not in a queue.")
        if fields.get("client_state"):
            call.client_state = fields["client_state"]
        self._dequeue(call, "leave")
        return {"result": "ok"}

    def _queued_call_hung_up(self, call) -> None:
        queued = self._queues[call.queue_name].calls[call.call_control_id]
        if not queued.keep_after_hangup:
            self._dequeue(call, "hangup")

    def _dequeue(self, call, reason: str) -> None:
        """The call leaves its queue; everyone behind it moves up one place."""
        queue = self._queues[call.queue_name]
        position = queue.position(call.call_control_id)
        queued = queue.calls.pop(call.call_control_id)
        now = self._now()
        wait = int(now - queued.enqueued_at)
        queue.past_waits.append(wait)
        queue.updated_at = now
        call.queue_name = None
        self._call_event("call.dequeued", call, queue=queue.name, queue_position=position, reason=reason,
                         wait_time_secs=wait)
