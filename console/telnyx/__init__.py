"""The telnyx room: the wire to Telnyx, nothing of the console's own state.

It owns the REST client (transport.py: session, retries, pages; client.py: the endpoints and
get_telnyx), the typed API errors (errors.py), webhook signing (signing.py) and the reading of
webhook JSON into an Event (events.py). It imports nothing of the console but console.config,
so every other room may build on it.
"""
