"""The live room: what pages show and how their changes reach open browsers.

It owns what each screen shows (screens.py), the catalogue of which atoms a changed key redraws
and how they look (catalogue.py), the pieces a tick draws and the frames they travel in
(pieces.py), the hub's coalescing tick and fan-out (hub.py) with each open page's bounded queue
(subscription.py), which is also the one queue its socket is written from, drawing in a second
process (render_process.py), the WebSocket (handshake.py: agreeing it and reading what pages send,
with wsproto; live_socket.py: one browser's socket, its reader thread and its one writer;
frames.py: the bytes the console writes), and the template helpers with the one clock pages are
drawn by (ui.py). It may import config, telnyx, state, ingest, access, queues and supervision;
never web: the /live route and the wiring that builds the hub (with the app factory its render
process needs) live there.
"""
