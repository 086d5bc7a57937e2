"""A seeded call-center scenario driving the simulated world: callers queue, agents answer, people talk.

Callers arrive at a steady random rate into named queues (``incoming_call`` → ``answer_call`` →
``enqueue``), wait, sometimes give up and hang up, and are otherwise answered by a named agent: the
agent's phone is dialled, picks up (now and then slowly), and a conference is created around the
caller (which takes the caller out of the queue as "bridged") for the agent to join. During the
conversation the floor passes back and forth, the caller is sometimes put on hold and the agent
sometimes mutes, until one side hangs up and the other follows. With ``rushes`` (see ``rush.py``),
a wave of callers now and then backs one queue up.

Everything is a deterministic function of the seed and of the ``step`` calls; the calendar that
holds the due actions and the thread that steps it are the ``Scenario`` this class extends.
"""

from __future__ import annotations

from collections import deque

from console.simulator.cast import (
    AGENT_DOMAIN,
    AREA_CODES,
    FIRST_NAMES,
    LAST_NAMES,
    Agent,
    Caller,
)
from console.simulator.rush import Rush, Rushes, RushPlan
from console.simulator.scenario import Scenario, log
from console.simulator.world import World, WorldError

PAUSES = {"hold": "unhold", "mute": "unmute"}


class Traffic(Scenario):
    """Drive a World with a seeded call-center day; step it by hand or run it on a thread."""

    def __init__(
        self,
        world: World,
        *,
        seed: int | str = 0,
        speed: float = 1.0,
        queues: tuple[str, ...] = ("Support", "Sales", "Billing"),
        agents: tuple[str, ...] = ("Alice", "Bob", "Chen", "Dana", "Eli", "Farah"),
        arrival_per_minute: float = 6,
        arrival_shape: int = 1,
        max_calls: int = 40,
        patience_secs: tuple[float, float] = (30.0, 300.0),
        talk_secs: tuple[float, float] = (30.0, 150.0),
        ring_secs: tuple[float, float] = (2.0, 6.0),
        slow_pickup_rate: float = 0.0,
        slow_ring_secs: tuple[float, float] = (20.0, 30.0),
        wrap_up_secs: tuple[float, float] = (5.0, 20.0),
        max_wait_time_secs: int = 900,
        hold_rate: float = 0.3,
        mute_rate: float = 0.25,
        queue_weights: tuple[float, ...] | None = None,
        rushes: Rushes | None = None,
    ):
        if not queues or not agents:
            raise ValueError("traffic needs at least one queue and one agent")
        super().__init__(world, seed=seed, speed=speed)
        self.queues = tuple(queues)
        self.queue_weights = tuple(queue_weights or range(len(self.queues) + 1, 1, -1))
        if len(self.queue_weights) != len(self.queues) or min(self.queue_weights) < 0 or sum(self.queue_weights) <= 0:
            raise ValueError("queue_weights needs one weight of 0 or more per queue, not all 0")
        if not (isinstance(arrival_shape, int) and arrival_shape >= 1):
            raise ValueError(f"arrival_shape must be a whole number of at least 1, got {arrival_shape!r}")
        self.arrival_per_minute = arrival_per_minute
        self.arrival_shape = arrival_shape
        self.max_calls = max_calls
        self.patience_secs = patience_secs
        self.talk_secs = talk_secs
        self.ring_secs = ring_secs
        self.slow_pickup_rate = slow_pickup_rate
        self.slow_ring_secs = slow_ring_secs
        self.wrap_up_secs = wrap_up_secs
        self.max_wait_time_secs = max_wait_time_secs
        self.hold_rate = hold_rate
        self.mute_rate = mute_rate
        self.numbers = {queue: f"+1888555{110 + index:04d}" for index, queue in enumerate(self.queues)}
        self.agents = [
            Agent(name, f"sip:{name.lower()}@{AGENT_DOMAIN}", self._skills(index)) for index, name in enumerate(agents)
        ]
        self.waiting: dict[str, deque[Caller]] = {queue: deque() for queue in self.queues}
        self.callers: dict[str, Caller] = {}
        self._schedule(self._gap(), self._arrive)
        self.rush_plan = RushPlan(rushes, self.queues, seed) if rushes is not None else None
        if self.rush_plan is not None:
            self._schedule(self.rush_plan.first_delay(), self._rush)

    def _skills(self, index: int) -> tuple[str, ...]:
        """Each agent serves one queue first and the next one as overflow."""
        count = len(self.queues)
        primary, overflow = self.queues[index % count], self.queues[(index + 1) % count]
        return (primary,) if primary == overflow else (primary, overflow)

    def _gap(self) -> float:
        """Seconds until the next caller arrives: a Poisson stream, or a steadier one for a larger shape."""
        rate = max(self.arrival_per_minute, 1e-6) / 60.0
        if self.arrival_shape == 1:
            return self.rng.expovariate(rate)
        return self.rng.gammavariate(self.arrival_shape, 1.0 / (rate * self.arrival_shape))

    # -- callers ------------------------------------------------------------------------------

    def _has_room(self) -> bool:
        """Whether one more caller, and the agent leg they may need, stays within ``max_calls`` legs."""
        callers = len(self.callers) + 1
        return callers + min(callers, len(self.agents)) <= self.max_calls

    def _new_caller(self, queue: str | None = None, patience_secs: tuple[float, float] | None = None) -> Caller | None:
        """A customer dials one of the queue numbers; None (a busy signal) when the center is full."""
        if not self._has_room():
            self.counts["busy"] += 1
            return None
        queue = queue or self.rng.choices(self.queues, weights=self.queue_weights)[0]
        number = f"+1{self.rng.choice(AREA_CODES)}555{self.rng.randint(100, 199):04d}"
        name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        patience = self.rng.uniform(*(patience_secs or self.patience_secs))
        call = self.world.incoming_call(number, self.numbers[queue], caller_id_name=name)
        caller = Caller(call["call_control_id"], number, name, queue, self.now, patience)
        self.callers[caller.call_control_id] = caller
        self.counts["arrived"] += 1
        return caller

    def _arrive(self) -> None:
        self._schedule(self._gap(), self._arrive)
        caller = self._new_caller()
        if caller is not None:
            self._schedule(self.rng.uniform(1.0, 3.0), self._queue_up, caller)

    def _rush(self) -> None:
        """A wave of callers into one queue begins; the next rush is put in the calendar."""
        self._schedule(self.rush_plan.next_delay(), self._rush)
        wave = self.rush_plan.wave()
        self.counts["rushes"] += 1
        log.info("traffic: a rush on %s until %d callers wait", wave.queue, wave.depth)
        self._rush_caller(wave, wave.callers)

    def _rush_caller(self, wave: Rush, callers_left: int) -> None:
        """One more caller of a rush dials (and gives up sooner, the lines being jammed) until the queue is backed up."""
        calling = sum(1 for caller in self.callers.values()
                      if caller.queue == wave.queue and caller.state == "arriving")
        if callers_left <= 0 or len(self.waiting[wave.queue]) + calling >= wave.depth:
            return
        caller = self._new_caller(wave.queue, self.rush_plan.rushes.patience_secs)
        if caller is not None:
            self._schedule(self.rng.uniform(1.0, 3.0), self._queue_up, caller)
        self._schedule(self.rush_plan.gap(), self._rush_caller, wave, callers_left - 1)

    def _queue_up(self, caller: Caller) -> None:
        """The IVR answers the caller and puts them at the back of their queue."""
        if caller.state != "arriving":
            return
        if not (self._quietly(self.world.answer_call, caller.call_control_id) and self._quietly(
            self.world.enqueue, caller.call_control_id, caller.queue, max_wait_time_secs=self.max_wait_time_secs
        )):
            self._gone(caller)
            return
        caller.state = "waiting"
        self.waiting[caller.queue].append(caller)
        self._schedule(caller.patience, self._give_up, caller)

    def _give_up(self, caller: Caller) -> None:
        """A caller still waiting after their patience runs out hangs up (an abandoned call)."""
        if caller.state != "waiting":
            return
        self.waiting[caller.queue].remove(caller)
        self._gone(caller)
        self.counts["abandoned"] += 1
        self._quietly(self.world.remote_hangup, caller.call_control_id, "normal_clearing", "caller")

    def _gone(self, caller: Caller) -> None:
        caller.state = "gone"
        self.callers.pop(caller.call_control_id, None)

    # -- agents -------------------------------------------------------------------------------

    def _next_caller(self, agent: Agent) -> Caller | None:
        """The caller who has waited longest in any of the agent's queues."""
        heads = [self.waiting[queue][0] for queue in agent.queues if self.waiting[queue]]
        return min(heads, key=lambda caller: caller.arrived_at, default=None)

    def _dispatch(self) -> None:
        """Every available agent whose wrap-up is over takes the longest-waiting caller they serve."""
        ready = [agent for agent in self.agents if agent.state in ("available", "wrap_up") and agent.free_at <= self.now]
        for agent in sorted(ready, key=lambda agent: agent.free_at):
            agent.state = "available"
            caller = self._next_caller(agent)
            if caller is not None:
                self._ring_agent(agent, caller)

    def _ring_agent(self, agent: Agent, caller: Caller) -> None:
        """Dial the agent's phone for this caller, who keeps their place until the agent picks up."""
        leg = self.world.dial(
            self.world.connection_id, agent.address, self.numbers[caller.queue],
            from_display_name=f"{caller.queue}: {caller.name}",
        )
        self.waiting[caller.queue].remove(caller)
        caller.state = "ringing_agent"
        agent.state, agent.caller, agent.call_control_id = "ringing", caller, leg["call_control_id"]
        agent.session += 1
        self._schedule(self._ring_time(), self._connect, agent, agent.session)

    def _ring_time(self) -> float:
        """Seconds the agent's phone rings: quick, or now and then slow (an agent finishing their notes)."""
        if self.slow_pickup_rate > 0 and self.rng.random() < self.slow_pickup_rate:
            return self.rng.uniform(*self.slow_ring_secs)
        return self.rng.uniform(*self.ring_secs)

    def _connect(self, agent: Agent, session: int) -> None:
        """The agent picks up: a conference is made around the caller and the agent joins it."""
        caller = agent.caller
        if agent.session != session or agent.state != "ringing" or caller is None:
            return
        name = f"{caller.queue} · {agent.name} · {caller.number}"
        try:
            self.world.answer_call(agent.call_control_id)
            conference = self.world.create_conference(caller.call_control_id, name, beep_enabled="never")
            self.world.conference_action(
                conference["id"], "join", {"call_control_id": agent.call_control_id, "label": agent.name}
            )
        except WorldError as exc:
            log.info("traffic could not connect %s to %s: %s", agent.name, caller.name, exc.detail)
            self.counts["errors"] += 1
            self._release(agent, wrap_up=1.0)
            return
        caller.state, agent.state, agent.conference_id = "talking", "talking", conference["id"]
        agent.speaker, agent.paused = None, set()
        self.counts["answered"] += 1
        self._begin_conversation(agent, self.rng.uniform(*self.talk_secs))

    def _begin_conversation(self, agent: Agent, talk: float) -> None:
        """Schedule the floor changes, maybe a hold and a mute, and the hang-up after ``talk`` seconds."""
        session = agent.session
        self._schedule(self.rng.uniform(0.5, 2.0), self._take_turn, agent, session)
        if self.rng.random() < self.hold_rate and talk > 30:
            held = self.rng.uniform(8.0, min(30.0, talk / 3))
            self._schedule(self.rng.uniform(0.2, 0.6) * talk, self._pause, agent, session, "hold", held)
        if self.rng.random() < self.mute_rate and talk > 20:
            muted = self.rng.uniform(3.0, 8.0)
            self._schedule(self.rng.uniform(0.1, 0.8) * talk, self._pause, agent, session, "mute", muted)
        self._schedule(talk, self._finish, agent, session)

    def _on_call(self, agent: Agent, session: int) -> bool:
        return agent.session == session and agent.state == "talking" and agent.caller is not None

    def _take_turn(self, agent: Agent, session: int) -> None:
        """The other side of the conversation takes the floor."""
        if not self._on_call(agent, session):
            return
        customer = agent.caller.call_control_id
        speaker = customer if agent.speaker == agent.call_control_id else agent.call_control_id
        if speaker == customer and "hold" in agent.paused:
            speaker = agent.call_control_id
        agent.speaker = speaker
        self.world.talk(speaker)
        self._schedule(self.rng.uniform(3.0, 10.0), self._take_turn, agent, session)

    def _pause(self, agent: Agent, session: int, action: str, seconds: float) -> None:
        """Put the caller on hold or mute the agent for ``seconds`` (skipped once the call moved on)."""
        if self._on_call(agent, session) and self._quietly(
            self.world.conference_action, agent.conference_id, action, self._pause_body(agent, action)
        ):
            agent.paused.add(action)
            self._schedule(seconds, self._resume, agent, session, action)

    def _resume(self, agent: Agent, session: int, action: str) -> None:
        if self._on_call(agent, session) and action in agent.paused:
            agent.paused.discard(action)
            body = self._pause_body(agent, action)
            self._quietly(self.world.conference_action, agent.conference_id, PAUSES[action], body)

    @staticmethod
    def _pause_body(agent: Agent, action: str) -> dict:
        target = agent.caller.call_control_id if action == "hold" else agent.call_control_id
        return {"call_control_ids": [target]}

    def _finish(self, agent: Agent, session: int) -> None:
        """One side says goodbye and hangs up, the other follows; the conference ends as all left."""
        if not self._on_call(agent, session):
            return
        customer = agent.caller.call_control_id
        if self.rng.random() < 0.7:
            order = ((customer, "caller"), (agent.call_control_id, "callee"))
        else:
            order = ((agent.call_control_id, "callee"), (customer, "caller"))
        for call_control_id, source in order:
            self._quietly(self.world.remote_hangup, call_control_id, "normal_clearing", source)
        self.counts["completed"] += 1
        self._release(agent, wrap_up=self.rng.uniform(*self.wrap_up_secs))

    def _release(self, agent: Agent, *, wrap_up: float) -> None:
        """The agent's call is over (their leg hung up if still up); after wrap-up they take calls again."""
        if agent.call_control_id:
            self._quietly(self.world.remote_hangup, agent.call_control_id, "normal_clearing", "callee")
        if agent.caller is not None and agent.caller.state != "talking":
            self._quietly(self.world.remote_hangup, agent.caller.call_control_id, "normal_clearing", "caller")
        if agent.caller is not None:
            self._gone(agent.caller)
        agent.state, agent.free_at = "wrap_up", self.now + wrap_up
        agent.caller = agent.call_control_id = agent.conference_id = None
        agent.speaker, agent.paused = None, set()
        agent.session += 1

    # -- a lively start -----------------------------------------------------------------------

    def warm_start(self, n_conferences: int = 3, n_waiting: int = 4) -> None:
        """Build a busy moment at once: conferences mid-conversation and callers already waiting."""
        with self._lock, self.world.lock:
            available = [agent for agent in self.agents if agent.state == "available"]
            for agent in available[: max(0, n_conferences)]:
                self._perform(self._warm_conference, agent)
            for agent in available[max(0, n_conferences):]:
                agent.state, agent.free_at = "wrap_up", self.now + self.rng.uniform(*self.wrap_up_secs) * 3
            for index in range(max(0, n_waiting)):
                self._perform(self._warm_waiting, self.queues[index % len(self.queues)])

    def _warm_conference(self, agent: Agent) -> None:
        caller = self._new_caller(agent.queues[0])
        if caller is None:
            return
        self._queue_up(caller)
        if caller.state == "waiting":
            self._ring_agent(agent, caller)
            self._connect(agent, agent.session)

    def _warm_waiting(self, queue: str) -> None:
        caller = self._new_caller(queue)
        if caller is not None:
            self._queue_up(caller)

    # -- reading ------------------------------------------------------------------------------

    def stats(self) -> dict:
        """Scenario counters plus how many callers wait and how many agents talk right now."""
        with self._lock:
            return {
                **self.counts,
                "sim_seconds": round(self.now, 3),
                "waiting": sum(len(line) for line in self.waiting.values()),
                "talking": sum(1 for agent in self.agents if agent.state == "talking"),
            }
