"""What a run's figures were measured on, and the figures as the plain-text table `bench` prints."""

from __future__ import annotations

import os
import sys


def machine() -> dict:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    total = memory_kib_total()
    return {"cpu": model, "cpus": os.cpu_count(), "memory_mib": total, "python": sys.version.split()[0],
            "platform": sys.platform}


def memory_kib_total() -> int | None:
    """The machine's memory in MiB (None when /proc/meminfo is unreadable)."""
    try:
        with open("/proc/meminfo") as meminfo:
            return int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1]) // 1024
    except (OSError, StopIteration):
        return None


def table(figures: dict) -> str:
    """The figures as a plain-text table."""
    box = figures["machine"]
    lines = [f"machine: {box['cpu']} x{box['cpus']}, {box['memory_mib']} MiB, Python {box['python']}"]
    ingest = figures.get("ingest")
    if ingest:
        base = ingest["baseline"]
        lines.append(f"subscribers: {ingest['subscribers']} ({ingest['watches']}, permessage-deflate on "
                     f"{ingest.get('subscribers_compressed', 0)}); render process: "
                     f"{'yes' if figures['options'].get('render_process', True) else 'no'}")
        lines.append(f"baseline GET /healthz: {base['per_s']}/s (console CPU {base['console_cpu_percent']}%)")
        header = (f"{'phase':<14}{'accepted/s':>11}{'failed':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
                  f"{'frames/s/sub':>14}{'bytes/s/sub':>13}{'wire B/s/sub':>14}{'CPU %':>8}{'RSS MiB':>9}"
                  f"{'load CPU %':>12}")
        lines += [header, "-" * len(header)]
        for p in ingest["phases"]:
            lines.append(f"{p['phase']:<14}{p['accepted_per_s']:>11}{p['failed']:>8}{_cell(p['latency_p50_ms']):>9}"
                         f"{_cell(p['latency_p95_ms']):>9}{_cell(p['latency_p99_ms']):>9}"
                         f"{p['frames_per_s_per_subscriber']:>14}{p['bytes_per_s_per_subscriber']:>13}"
                         f"{p['wire_bytes_per_s_per_subscriber']:>14}{p['console_cpu_percent']:>8}{p['console_peak_rss_mib']:>9}{p['load_cpu_percent']:>12}")
        lines.append("bytes: the HTML of the messages; wire B: what crossed the socket (compressed when negotiated)")
        lines.append("CPU %: the console's processes; load CPU %: the poster and the subscribers, on the same machine")
        lines.append(f"ingest / baseline: {ingest['ingest_to_baseline_ratio']}")
        check = ingest["final_view_check"]
        lines.append(f"final view check: {'passed' if check['passed'] else 'FAILED'} "
                     f"({check['subscribers_checked']} subscribers, {check['items_checked']} items)")
    pages = figures.get("pages")
    if pages:
        lines.append(f"large state: {pages['state']}")
        for name, page in pages["pages"].items():
            lines.append(f"  {name:<11} median {page['median_ms']:>8} ms   max {page['max_ms']:>8} ms   "
                         f"{page['html_bytes']:>9} bytes")
    return "\n".join(lines)


def _cell(value) -> str:
    return "-" if value is None else str(value)
