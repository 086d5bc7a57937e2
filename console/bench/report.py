"""What a run's figures were measured on, and the figures as the plain-text table `bench` prints."""

from __future__ import annotations

import os
import sys

from console.bench.day import day_lines


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
        if ingest.get("attack"):
            lines += _attack_lines(ingest["attack"])
    if figures.get("large_state"):
        lines += _large_lines(figures["large_state"])
    if figures.get("day"):
        lines += day_lines(figures["day"])
    if figures.get("instances"):
        lines += _instances_lines(figures["instances"])
    pages = figures.get("pages")
    if pages:
        lines.append(f"large state: {pages['state']}")
        for name, page in pages["pages"].items():
            lines.append(f"  {name:<11} median {page['median_ms']:>8} ms   max {page['max_ms']:>8} ms   "
                         f"{page['html_bytes']:>9} bytes")
    return "\n".join(lines)


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _attack_lines(attack: dict) -> list[str]:
    hooks, log, held = attack["webhooks"], attack["log"], attack["held_at_end"]
    quiet, loaded = attack["dashboard_quiet"], attack["dashboard_under_attack"]
    after = attack["view_check_after"]
    return [
        (f"attack: {attack['slow_header_connections']} slow-header connections, {attack['sockets']} live sockets "
         f"({attack['never_reading']} never reading), webhooks at {attack['rate']}/s for {attack['duration_s']} s"),
        (f"  held at the end: {held['slow_open']} slow, {held['readers_open']} reading, "
         f"{held['never_reading_open']} never reading (opened {attack['opened']['slow_opened']}, "
         f"{attack['opened']['readers_opened']}, {attack['opened']['never_reading_opened']}); slow ones cut off: "
         f"{attack['slow_cut_off']} ({attack['slow_answered_408']} with 408)"),
        (f"  webhooks: {hooks['accepted']} of {hooks['sent']} answered 2xx "
         f"({'all' if hooks['all_2xx'] else 'NOT all'}), {hooks['failed']} failed; ack p50 "
         f"{_cell(hooks['ack_p50_ms'])} ms, p99 {_cell(hooks['ack_p99_ms'])} ms, max {_cell(hooks['ack_max_ms'])} ms"),
        (f"  dashboard: median {_cell(quiet['median_ms'])} ms quiet, {_cell(loaded['median_ms'])} ms under attack "
         f"(max {_cell(loaded['max_ms'])} ms, {loaded['failed']} of {loaded['samples']} failed)"),
        (f"  event log: {log['accepted_checked'] - log['missing']} of {log['accepted_checked']} accepted webhooks "
         f"logged ({'none' if log['all_logged'] else log['missing']} missing); view check after: "
         f"{'passed' if after['passed'] else 'FAILED'}"),
    ]


def _large_lines(large: dict) -> list[str]:
    state, flat, base, check = large["state"], large["flat_out"], large["baseline"], large["final_view_check"]
    return [
        (f"large state: {state['conferences']} live conferences of {state['participants_each']}, {state['queues']} "
         f"queues ({state['events']} events written in {state['build_s']} s), {large['subscribers']} subscribers "
         f"(connected in {large['subscribers_connect_s']} s)"),
        (f"  baseline GET /healthz: {base['per_s']}/s; flat out: {flat['accepted_per_s']}/s accepted, "
         f"{flat['failed']} failed; ingest / baseline: {large['ingest_to_baseline_ratio']}"),
        (f"  webhook -> frame p50 {_cell(flat['latency_p50_ms'])} ms, p99 {_cell(flat['latency_p99_ms'])} ms "
         f"({flat['latency_samples']} samples); console CPU {flat['console_cpu_percent']}%, "
         f"RSS {flat['console_peak_rss_mib']} MiB"),
        (f"  final view check: {'passed, lost 0' if check['passed'] else 'FAILED'} "
         f"({check['subscribers_checked']} subscribers, {check['items_checked']} items)"),
    ]


def _instances_lines(result: dict) -> list[str]:
    """The embedded run and the distributed one, phase by phase, then lag, log and view checks."""
    count = result["instances"]
    header = (f"{'run':<16}{'phase':<14}{'accepted/s':>11}{'failed':>8}{'p50 ms':>9}{'p99 ms':>9}{'samples':>9}"
              f"{'ack p99':>9}  {'CPU % per instance':<20}{'Redis %':>8}  {'lag max':<14}{'lag end':<14}")
    lines = [(f"instances: {count} consoles on one Redis against the embedded single console, webhooks round robin "
             f"(fixed {result['fixed_rate']}/s, then flat out; {result['duration_s']} s each)"),
             header, "-" * len(header)]
    for name in ("embedded", "distributed"):
        run = result[name]
        label = "embedded x1" if name == "embedded" else f"distributed x{run['instances']}"
        for p in run["phases"]:
            lines.append(f"{label:<16}{p['phase']:<14}{p['accepted_per_s']:>11}{p['failed']:>8}"
                         f"{_cell(p['latency_p50_ms']):>9}{_cell(p['latency_p99_ms']):>9}{p['latency_samples']:>9}"
                         f"{_cell(p['ack_p99_ms']):>9}  {_join(p['console_cpu_percent']):<20}"
                         f"{_cell(p['redis_cpu_percent']):>8}  {_join(p['lag_max']):<14}{_join(p['lag_at_end']):<14}")
    distributed = result["distributed"]
    flat = distributed["phases"][-1]
    lines.append(f"latency: posted to instance i, the frame read on instance (i + 1) % {count} "
                 f"({', '.join(f'{pair}: {n}' for pair, n in flat['latency_pairs'].items())}); lag: stream entries "
                 f"not yet applied, from /readyz; caught up {_cell(flat['caught_up_s'])} s after flat out")
    lines.append(f"flat out, {count} instances / embedded: {_cell(result['flat_out_to_embedded'])}")
    for name in ("embedded", "distributed"):
        run = result[name]
        log, views = run["log"], run["view_check"]
        logged = ", ".join(f"#{e['instance']} {log['accepted_checked'] - e['missing']}" for e in log["per_instance"])
        verdict = "lost 0" if log["all_logged"] else f"LOST {log['lost']}"
        lines.append(f"{name}: {log['accepted_checked']} accepted webhooks, logged on {logged} ({verdict}); "
                     f"view check {'passed' if views['passed'] else 'FAILED'} ({views['items_checked']} items)")
    return lines


def _join(values) -> str:
    return "-" if values is None else "/".join(_cell(value) for value in values)
