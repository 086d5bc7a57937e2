"""The access room: who is asking, and may they.

It owns the users and their roles (users.py), the permission table, sign-in, CSRF and single
sign-on (auth.py), sessions the server can end and their signed cookie (session_cookie.py), life
behind a trusted proxy and inside an intranet's frames (embedding.py), and the audit trail of what
each user did (audit.py).
It may import config, telnyx, state and ingest; a refusal is raised as auth.Refused for the web
room to show, so nothing here reaches up into queues, supervision, live or web.
"""
