"""The agents room: who the call center's agents are, and who a call leg is (Agent, Customer or Supervisor).

It owns the agent directory's rules (addresses.py: what an agent's E.164 number or SIP address
is, written one way; directory.py: adding, editing, removing and importing agents, with clear
refusals), the role of a participant or leg (roles.py), and the bodies of the `supervisor-console
agent` commands (commands.py). The rows themselves live in the state room (console/state/agents.py).
It may import config, telnyx, state, ingest, access and queues; never supervision, live or web.
"""
