"""The Flask face: the app factory, its wiring, the blueprints in views/, forms, metrics and serving.

The top room of the product: it may import every other room (config, telnyx, state, ingest,
access, queues, supervision, live); none of them imports it.
"""
