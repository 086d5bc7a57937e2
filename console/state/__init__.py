"""state: the event log, the read model built from it, and the one path by which events change them.

This room owns the console's SQLite file: the named migrations that shape it (schema), the
append-only event log and the tables projected from it (event_writes says what each event writes,
projection which write wins and what is derived, batch saves a transaction's rows and names what
changed), the one write path (``Store.apply``/``apply_many``/``transaction`` and its ``Writer``),
the queries the pages read (users and the audit trail among them), call timelines and queue
outcomes read back from the log, the queue-figure facts written with each event in the same
transaction and read by indexed ranges (kpi_facts, kpi_reads, kpi_backfill, bucket_cache), paged
history rows (history_rows), pruning in small batches and the folded days kept after it (retention,
folded_days), and the replay ledger of accepted webhook signatures, which lives
in the same database file in tables of its own. It is the only room that speaks SQL. It may import config and telnyx, nothing higher.
"""
