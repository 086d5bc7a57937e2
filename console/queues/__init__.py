"""The queues room: what the figures say about each queue, and when they call for attention.

It owns the queue KPIs as pure functions over events (kpis.py), reading them from the store for
the current period (figures.py), the alert levels and the watcher that records their changes
(alerts.py), and the small charts the wallboard draws (charts.py). It may import config, telnyx,
state, ingest and access; never supervision, live or web.
"""
