"""The queues room: what the figures say about each queue, and when they call for attention.

It owns the queue KPIs as pure functions over events (kpis.py, the reference), reading them for a
period from the facts the store keeps with each event (figures.py; whole 15-minute buckets of sums
kept in memory while their version holds, figure_sums.py), the alert levels and the watcher that
records their changes (alerts.py), the small charts the wallboard draws (charts.py), and retention:
folding a day into daily figures before its events are pruned, in the background (daily_figures.py,
retention.py). It may
import config, telnyx, state, ingest and access; never supervision, live or web.
"""
