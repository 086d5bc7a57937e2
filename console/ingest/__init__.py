"""The ingest room: how a verified webhook or a console change becomes a committed event.

It owns admitting a webhook (receive.py: verify, parse, commit, what to answer), the group commit
that lets webhooks share a transaction (group_commit.py), the bus that applies events and tells
listeners what changed (bus.py), and the reconciler that heals what webhooks missed over REST
(comparison.py finds the differences, reconcile.py runs it). Its one seam to state is EventLog
(event_log.py). It may import console.config, telnyx and state; never access, web or anything
higher, so HTTP framing, security headers and metrics stay with the web room.
"""
