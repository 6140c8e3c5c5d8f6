"""From the measures of ``python -m bench.compare`` to its table rows, its Markdown report and its chart's data
(no I/O)."""
from __future__ import annotations

from typing import Any, Sequence

from .stats import (Goal, Spread, block_ratios, cumulative, ecdf, median, percentile, row, spread,
                            throughput, tokens_per_1000)

# Issue 24: the broker against the plain SDK implementation (the peer: createOrGet, one row upserted, the result as
# JSON); the cold start against the SDK's. The goals set against the SDK's bare call before it are retired: (a0) and
# (a) stay as measures.
GOALS = {
    "whole": Goal("<=", 0.8), "http": Goal("<=", 1.0), "cpu": Goal("<=", 0.6), "queue_cpu": Goal("<=", 0.6),
    "cold": Goal("<=", 0.15), "tokens": Goal("<=", 1.0), "queue": Goal(">=", 0.8), "rate": Goal(">=", 0.8),
}
LABELS = {"sdk": "SDK: bare createOrGet call", "peer": "plain SDK implementation: createOrGet + upsert + JSON",
          "floor": "bare requests.Session call (the stand-in's floor)", "graph": "broker: Graph adapter (a)",
          "whole": "broker: whole request in process (b)", "http": "broker: HTTP through the local host (c)",
          "queue": "broker: queue function in process (q)"}


def _flat(blocks: Sequence[Sequence[float]]) -> list[float]:
    return [x for block in blocks for x in block]


def _latency_text(blocks: Sequence[Sequence[float]]) -> str:
    samples = _flat(blocks)
    return f"p50 {median(samples) * 1000:.2f} / p95 {percentile(samples, 95) * 1000:.2f} ms"


def _rate(run: dict[str, Any]) -> float:
    return throughput(len(run["completions"]), run["wall"])


def _cpu_text(runs: Sequence[dict[str, Any]], cores: int) -> str:
    """Cores busy per process (medians over the runs) and, for the broker's processes, CPU ms per message."""
    names = sorted({name for run in runs for name in run["cpu"]} - {"total"})
    parts = []
    for name in names:
        used = median([run["cpu"].get(name, 0.0) for run in runs])
        if used < 0.05:
            continue
        per = median([run["cpu"].get(name, 0.0) * run["wall"] * 1000 / max(1, len(run["completions"]))
                      for run in runs])
        parts.append(f"{name} {used:.2f} = {per:.1f} ms/request")
    total = median([run["cpu"].get("total", 0.0) for run in runs])
    return f"CPU {total:.2f} of {cores} cores ({', '.join(parts)})"


# The local host and the app run in one Python process: under the GIL its Python code gets one core at most, so past
# this share of a core that process, not Graph's latency, sets the pace.
CPU_BOUND_CORES = 0.75
HOST_PROCESS = "bench"


def _cpu_limit(runs: Sequence[dict[str, Any]], rate: float, ideal: float) -> tuple[float | None, str]:
    """When the host's process is CPU-bound: the rate one core allows at its CPU cost per message, and the text
    that says so (else None, "")."""
    cores = median([run["cpu"].get(HOST_PROCESS, 0.0) for run in runs])
    per_ms = median([run["cpu"].get(HOST_PROCESS, 0.0) * run["wall"] * 1000 / max(1, len(run["completions"]))
                     for run in runs])
    if cores < CPU_BOUND_CORES or per_ms <= 0:
        return None, ""
    bound = 1000 / per_ms
    if bound >= ideal:
        return None, ""
    return bound, (f"; **CPU-bound**: the local host and the app share one Python process, busy {cores:.2f} of a core "
                   f"(the GIL: one core for Python code) at {per_ms:.1f} ms of CPU per message, so at most "
                   f"{bound:.1f}/s here; {rate:.1f}/s is {rate / bound:.2f} of that")


def _judged(entry: dict[str, Any], goal: Goal, rate: float, bound: float | None) -> dict[str, Any]:
    """The goal "≥ 0.8 × the ideal as long as the CPU is not the limit": where it is, against what one core allows."""
    if bound is not None:
        entry["met"] = goal.met(rate / bound)
        entry["goal"] += " (CPU-bound: × what one core allows)"
    return entry


def _storage_text(waits: Sequence[dict[str, float]]) -> str:
    if not waits:
        return ""
    seconds = median([w["seconds_per_call"] for w in waits])
    calls = median([w["requests_per_call"] for w in waits])
    sent = median([w.get("sent_bytes_per_call", 0.0) for w in waits])
    received = median([w.get("received_bytes_per_call", 0.0) for w in waits])
    return (f"; waiting on Azurite {seconds * 1000:.2f} ms ({calls:g} storage requests, {sent:,.0f} B sent, "
            f"{received:,.0f} B received)")


def _peer_storage_text(probes: Sequence[dict[str, Any]]) -> str:
    if not probes:
        return ""
    return (f"; {median([p['requests'] for p in probes]):g} storage request, "
            f"{median([p['sent_bytes'] for p in probes]):,.0f} B sent, "
            f"{median([p['received_bytes'] for p in probes]):,.0f} B received")


APP_PROCESS = "the app's process"


def _cpu_ms(blocks: Sequence[dict[str, float]], name: str = "own") -> float:
    return median([b.get(name, 0.0) for b in blocks]) * 1000


def _block_cpu_text(blocks: Sequence[dict[str, float]], own: str) -> str:
    return (f"{_cpu_ms(blocks):.2f} ms CPU in {own} (Azurite {_cpu_ms(blocks, 'azurite'):.2f} ms, emulator "
            f"{_cpu_ms(blocks, 'emulator'):.2f} ms)")


def _cpu_ratios(numerator: Sequence[dict[str, float]], denominator: Sequence[dict[str, float]]) -> Spread:
    return spread(a["own"] / b["own"] for a, b in zip(numerator, denominator) if b["own"] > 0)


def _repeat_row(repeats: Sequence[dict[str, float]]) -> dict[str, Any]:
    requests = [r["requests_per_call"] for r in repeats]
    graph = [r["graph_calls_per_call"] for r in repeats]
    entry = row("(r) a repeat (the same request again, answered from the table): storage round trips and Graph "
                "calls per repeat", f"{median(requests):g} storage requests ({min(requests):g}–{max(requests):g}), "
                f"{median(graph):g} Graph calls; "
                f"{median([r['sent_bytes_per_call'] for r in repeats]):,.0f} B sent, "
                f"{median([r['received_bytes_per_call'] for r in repeats]):,.0f} B received", "—", None, None)
    entry["goal"] = "1 storage round trip, no Graph call"
    entry["met"] = all(value == 1 for value in requests) and all(value == 0 for value in graph)
    return entry


def build_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    lat = data["latency"]
    samples, waits, cpu = lat["samples"], lat.get("storage_wait", {}), lat["block_cpu"]
    cores = data["machine"]["cores"] or 2
    sdk_text, peer_text = _latency_text(samples["sdk"]), _latency_text(samples["peer"])
    peer_full = peer_text + _peer_storage_text(lat.get("peer_storage", []))
    peer_cpu = _block_cpu_text(cpu["peer"], "the SDK's process")
    rows = [
        row("(a0) the stand-in's floor: the same createOrGet through a bare `requests.Session` (no client code), "
            "vs the SDK's bare call", _latency_text(samples["floor"]), sdk_text,
            spread(block_ratios(samples["floor"], samples["sdk"])), None),
        row("(a) one createOrGet call, 5 attendees: `GraphClient.create_or_get` vs the SDK's `create_or_get.post`",
            _latency_text(samples["graph"]), sdk_text, spread(block_ratios(samples["graph"], samples["sdk"])), None),
        row("(b) whole request in process (`create_meeting`: validation, table reads and writes, Graph, result) vs "
            "the plain SDK implementation", _latency_text(samples["whole"]) + _storage_text(waits.get("whole", [])),
            sdk_text, spread(block_ratios(samples["whole"], samples["peer"])), GOALS["whole"], peer_full),
        row("(b) CPU per new meeting: the app's process in (b) vs the peer's process per job",
            _block_cpu_text(cpu["whole"], APP_PROCESS), "—", _cpu_ratios(cpu["whole"], cpu["peer"]),
            GOALS["cpu"], peer_cpu),
        row("(c) `POST /api/meetings` through the local host (keep-alive client) vs the plain SDK implementation",
            _latency_text(samples["http"]) + _storage_text(waits.get("http", [])), sdk_text,
            spread(block_ratios(samples["http"], samples["peer"])), GOALS["http"], peer_text),
        row("(q) CPU per queue message: the queue function in process (decode, validate, create, result message; the "
            "host's receive, delete and send are not the app's) vs the peer's process per job",
            f"{_latency_text(samples['queue'])}; {_block_cpu_text(cpu['queue'], APP_PROCESS)}"
            + _storage_text(waits.get("queue", [])), "—", _cpu_ratios(cpu["queue"], cpu["peer"]),
            GOALS["queue_cpu"], peer_cpu),
    ]
    if lat.get("repeats"):
        rows.append(_repeat_row(lat["repeats"]))
    cold = data["cold"]["runs"]
    rows.append(row("(d) cold start: new process → first meeting created (real token from the stand-in)",
                    _cold_text(cold["broker"]), _cold_text(cold["sdk"]),
                    spread(b["wall_s"] / s["wall_s"] for b, s in zip(cold["broker"], cold["sdk"])), GOALS["cold"]))
    if cold.get("imports"):
        rows.append(row("(d0) the floor under (d): a new process that imports only azure.functions, msal (with "
                        "requests) and azure-data-tables (with azure-core), nothing of the app, and calls nothing; "
                        "the smallest ratio (d) could reach", _cold_text(cold["imports"]), _cold_text(cold["sdk"]),
                        spread(f["wall_s"] / s["wall_s"] for f, s in zip(cold["imports"], cold["sdk"])), None))
    tokens, meetings = lat["tokens"], lat["meetings"]
    per = {side: tokens_per_1000(tokens[side], meetings[side]) for side in tokens}
    sdk_rate = tokens["sdk"] / meetings["sdk"] if meetings["sdk"] else 0.0
    ratio = (tokens["broker"] / meetings["broker"]) / sdk_rate if sdk_rate and meetings["broker"] else float("inf")
    rows.append(row("(e) token requests per 1,000 meetings (long-lived process, whole run; the SDK's column: its "
                    "bare calls and the peer's jobs, one client)",
                    f"{per['broker']:g} ({tokens['broker']} for {meetings['broker']:,})",
                    f"{per['sdk']:g} ({tokens['sdk']} for {meetings['sdk']:,})", Spread(ratio, ratio, ratio, 1),
                    GOALS["tokens"]))
    queue = data["queue"]
    ideal = queue["ideal_per_s"]
    broker_runs, sdk_runs = queue["runs"]["broker"], queue["runs"]["sdk"]
    rate = median([_rate(r) for r in broker_runs])
    bound, limit_text = _cpu_limit(broker_runs, rate, ideal)
    rows.append(_judged(row(
        f"(f) queue, Graph answering after {queue['latency_s'] * 1000:.0f} ms: messages/s through the host's queue "
        f"workers vs the ideal {queue['concurrency']} ÷ {queue['latency_s']:g} s = {ideal:g}/s",
        f"{rate:.1f}/s, {sum(r['failed'] for r in broker_runs)} failed, "
        f"{sum(r['retried'] for r in broker_runs)} invocations retried; {_cpu_text(broker_runs, cores)}{limit_text}",
        f"{median([_rate(r) for r in sdk_runs]):.1f}/s with {queue['concurrency']} calls in flight "
        f"({median([_rate(r) for r in sdk_runs]) / ideal:.2f} of the ideal)",
        spread(_rate(r) / ideal for r in broker_runs), GOALS["queue"],
        _peer_queue_text(queue["runs"].get("peer", []), queue["concurrency"], ideal)), GOALS["queue"], rate, bound))
    for limited in data["rates"]:
        rate = limited["rate"]
        broker_runs, sdk_runs = limited["runs"]["broker"], limited["runs"]["sdk"]
        failed = sum(r["failed"] for r in broker_runs)
        ratio_spread = spread(_rate(r) / rate for r in broker_runs)
        achieved = median([_rate(r) for r in broker_runs])
        bound, limit_text = _cpu_limit(broker_runs, achieved, rate)
        entry = _judged(row(
            f"(g) queue, Graph limited to {rate:g} requests/s (429 + Retry-After): messages/s vs {rate:g}; failed "
            f"requests ({limited['messages']} per run)",
            f"{achieved:.1f}/s, {failed} failed, "
            f"{sum(r['retried'] for r in broker_runs)} invocations retried, "
            f"{median([r['throttled'] for r in broker_runs]):g} 429s per run; {_cpu_text(broker_runs, cores)}"
            f"{limit_text}",
            f"{median([_rate(r) for r in sdk_runs]):.1f}/s, {sum(r['failed'] for r in sdk_runs)} failed, "
            f"{median([r['throttled'] for r in sdk_runs]):g} 429s per run (default retry handler)",
            ratio_spread, GOALS["rate"], _peer_queue_text(limited["runs"].get("peer", []), None, None)),
            GOALS["rate"], achieved, bound)
        entry["goal"] += ", 0 failed"
        entry["met"] = bool(entry["met"]) and failed == 0
        rows.append(entry)
    return rows


def _peer_queue_text(runs: Sequence[dict[str, Any]], concurrency: int | None, ideal: float | None) -> str:
    """The peer's jobs with as many in flight as the host runs: rate, failures, its process's CPU per job."""
    if not runs:
        return "—"
    rate = median([_rate(r) for r in runs])
    per = median([r["cpu"].get("sdk", 0.0) * r["wall"] * 1000 / max(1, len(r["completions"])) for r in runs])
    head = f"{rate:.1f}/s" + (f" with {concurrency} jobs in flight ({rate / ideal:.2f} of the ideal)"
                              if concurrency and ideal else "")
    throttled = f", {median([r['throttled'] for r in runs]):g} 429s per run" if concurrency is None else ""
    return f"{head}, {sum(r['failed'] for r in runs)} failed{throttled}; {per:.1f} ms CPU per job in its process"


def _cold_text(runs: Sequence[dict[str, Any]]) -> str:
    functions = [r["functions_import_s"] for r in runs if "functions_import_s" in r]
    of_which = f" of which azure.functions {median(functions):.2f}" if functions else ""
    return (f"{median([r['wall_s'] for r in runs]):.2f} s (import {median([r['import_s'] for r in runs]):.2f}{of_which}, "
            f"set-up {median([r['setup_s'] for r in runs]):.2f}, first call {median([r['first_s'] for r in runs]):.2f})")


def report_markdown(data: dict[str, Any], table: str) -> str:
    m = data["machine"]
    sizes = data["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in (data.get("sdk_versions") or {}).items())
    load = f"load average {data['load_before'][0]:.2f} before, {data['load_after'][0]:.2f} after"
    steal = data.get("steal_percent")
    if steal is not None:
        parts = [f"{name} {data[name]['steal_percent']:g} %" for name in ("latency", "cold", "queue")
                 if data.get(name, {}).get("steal_percent") is not None]
        parts += [f"R = {r['rate']:g}: {r['steal_percent']:g} %" for r in data.get("rates", [])
                  if r.get("steal_percent") is not None]
        load += (f"; CPU time stolen by the hypervisor (other guests): {steal:g} % of the run"
                 + (f" ({', '.join(parts)})" if parts else ""))
    return "\n".join([
        f"# Broker vs msgraph-sdk, {data['date']} ({data['mode']})",
        "",
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}; {versions}. {load}; {data['total_s']} s in all.",
        f"Latency blocks of {sizes['calls']} calls × {sizes['reps']} repetitions, cold starts × {sizes['cold_reps']}, "
        f"queue runs of {sizes['queue_messages']} messages × {sizes['queue_reps']}, rate-limited runs of R × "
        f"{sizes['rate_seconds']} s messages × {sizes['queue_reps']}; ratios are medians of the per-repetition "
        f"ratios (min–max)." + (f" App settings: {data['app_settings']}." if data.get("app_settings") else ""),
        "",
        table,
    ])


def chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """What chart.py draws: latency distributions (ms), cold-start stages, and finished requests over time
    for the run with the median throughput of each side."""
    lat = data["latency"]
    samples = lat["samples"]
    latency = {}
    for kind in ("sdk", "peer", "floor", "graph", "whole", "http", "queue"):
        xs, ys = ecdf(_flat(samples[kind]))
        latency[LABELS[kind]] = [[x * 1000 for x in xs], ys]
    cpu = {label: {"own process": _cpu_ms(lat["block_cpu"][kind]),
                   "Azurite": _cpu_ms(lat["block_cpu"][kind], "azurite")}
           for label, kind in (("broker (b)\nnew meeting", "whole"), ("broker (q)\nqueue message", "queue"),
                               ("plain SDK\nimplementation", "peer"))}
    waits = lat.get("storage_wait", {})
    probes = lat.get("peer_storage", [])
    storage = {"broker (b)": {key: median([w.get(f"{key}_per_call", 0.0) for w in waits.get("whole", [])] or [0.0])
                              for key in ("requests", "sent_bytes", "received_bytes")},
               "plain SDK implementation": {key: median([p[key] for p in probes] or [0.0])
                                            for key in ("requests", "sent_bytes", "received_bytes")}}
    cold = {}
    for side, runs in data["cold"]["runs"].items():
        stages = {stage: median([r[key] for r in runs]) for stage, key in
                  (("imports", "import_s"), ("set-up", "setup_s"), ("first call", "first_s"))}
        cold[side] = {"interpreter start": max(0.0, median([r["wall_s"] for r in runs]) - sum(stages.values())),
                      **stages}

    def curves(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        picked = {}
        for side, side_runs in runs.items():
            ordered = sorted(side_runs, key=_rate)
            middle = ordered[len(ordered) // 2]
            picked[side] = cumulative(middle["completions"])
        return picked

    queue = data["queue"]
    broker_runs = queue["runs"]["broker"]
    bound, _ = _cpu_limit(broker_runs, median([_rate(r) for r in broker_runs]), queue["ideal_per_s"])
    return {"latency": latency, "cold": cold, "cpu": cpu, "storage": storage,
            "queue": {"ideal_per_s": queue["ideal_per_s"], "latency_ms": queue["latency_s"] * 1000,
                      "cpu_bound_per_s": bound, **curves(queue["runs"])},
            "rates": [{"rate": r["rate"], **curves(r["runs"])} for r in data["rates"]]}
