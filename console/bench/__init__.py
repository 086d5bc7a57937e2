"""The benchmark: a tool beside the product that measures ingest, live latency and page cost.

It may import anything of the product (it starts the console and posts to it); no product module
imports it, only the `supervisor-console bench` command does.
"""
