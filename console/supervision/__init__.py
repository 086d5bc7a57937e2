"""The supervision room: a supervisor's own line and how they take part in a conference.

It owns the supervisor line and the modes monitor, whisper, barge and leave (line.py), and who
hears whom in a conference (audio_paths.py). It may import config, telnyx, state, ingest, access
and queues; never live or web.
"""
