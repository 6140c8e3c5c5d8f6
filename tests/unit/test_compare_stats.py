"""The pure helpers of the SDK comparison benchmark (bench/compare/stats.py, bench/compare/report.py): block order,
ratios with min–max, goals, the table and the chart's data. The benchmark itself is run by hand (it needs the
package index for its venv and takes minutes), never by the test suite."""
from __future__ import annotations

import math

import pytest

from bench.compare.report import build_rows, chart_data
from bench.compare.stats import (Goal, block_ratios, cumulative, ecdf, ideal_rate, markdown, missed, percentile,
                                 schedule, spread, throughput, tokens_per_1000)


def test_schedule_rotates_so_every_kind_takes_every_place():
    order = schedule(4, ["sdk", "graph", "whole", "http"])
    assert order[0] == ["sdk", "graph", "whole", "http"]
    assert order[1] == ["graph", "whole", "http", "sdk"]
    for place in range(4):
        assert sorted(rep[place] for rep in order) == ["graph", "http", "sdk", "whole"]
    assert schedule(3, ["broker", "sdk"]) == [["broker", "sdk"], ["sdk", "broker"], ["broker", "sdk"]]
    with pytest.raises(ValueError):
        schedule(0, ["a"])


def test_ratios_per_repetition_and_their_spread():
    ratios = block_ratios([[1, 2, 3], [2, 2, 2], [4, 4, 10]], [[10, 10, 10], [10, 20, 30], [10, 10, 10]])
    assert ratios == [0.2, 0.1, 0.4]
    s = spread(ratios)
    assert (s.median, s.low, s.high, s.reps) == (0.2, 0.1, 0.4, 3)
    assert s.text() == "0.20 (0.10–0.40)"
    assert spread([float("nan"), 0.5, float("inf")]).reps == 1
    with pytest.raises(ValueError):
        block_ratios([[1]], [[1], [2]])


def test_goals_and_small_formulas():
    assert Goal("<=", 0.8).met(0.8) and not Goal("<=", 0.8).met(0.81)
    assert Goal(">=", 0.8).met(0.9) and Goal(">=", 0.8).text() == "≥ 0.8"
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([5, 1, 3, 2, 4], 95) == 5
    assert tokens_per_1000(1, 2500) == 0.4 and math.isnan(tokens_per_1000(1, 0))
    assert ideal_rate(6, 0.1) == pytest.approx(60)
    assert throughput(120, 2.0) == 60 and throughput(0, 0) == 0


def test_ecdf_and_cumulative_are_thinned_but_keep_the_ends():
    xs, ys = ecdf(list(range(1000, 0, -1)), points=100)
    assert len(xs) == 100 and xs[0] == 10 and xs[-1] == 1000 and ys[-1] == 1.0
    assert ys == sorted(ys)
    ts, counts = cumulative([0.5, 0.1, 0.3])
    assert ts == [0.0, 0.1, 0.3, 0.5] and counts == [0, 1, 2, 3]
    assert ecdf([]) == ([], [])


def _queue_run(rate: float, n: int, failed: int = 0, retried: int = 0, bench_cpu: float = 0.5) -> dict:
    wall = n / rate
    return {"wall": wall, "completions": [wall * (i + 1) / n for i in range(n)], "failed": failed,
            "retried": retried, "throttled": 3, "cpu": {"bench": bench_cpu, "azurite": 0.25, "total": bench_cpu + 0.25}}


def _data(sdk_ms: float = 10.0, graph_ms: float = 1.0, queue_rate: float = 54.0, failed: int = 0,
          whole_cpu_ms: float = 6.0) -> dict:
    ms = lambda value, n=5: [value / 1000] * n  # noqa: E731
    samples = {"sdk": [ms(sdk_ms)] * 3, "peer": [ms(12.0)] * 3, "floor": [ms(0.8)] * 3, "graph": [ms(graph_ms)] * 3,
               "whole": [ms(7)] * 3, "http": [ms(9)] * 3, "queue": [ms(7.5)] * 3}
    cpu = lambda own: [{"own": own / 1000, "azurite": 0.002, "emulator": 0.001}] * 3  # noqa: E731
    cold = {"broker": [{"wall_s": 0.4, "import_s": 0.2, "setup_s": 0.01, "first_s": 0.1}] * 3,
            "sdk": [{"wall_s": 4.0, "import_s": 0.3, "setup_s": 0.05, "first_s": 3.5}] * 3,
            "imports": [{"wall_s": 0.8, "import_s": 0.75, "setup_s": 0.0, "first_s": 0.0}] * 3}
    return {
        "machine": {"cores": 2},
        "latency": {"samples": samples, "calls_per_block": 5, "tokens": {"broker": 1, "sdk": 1},
                    "meetings": {"broker": 3000, "sdk": 1000},
                    "storage_wait": {"whole": [{"seconds_per_call": 0.004, "requests_per_call": 2,
                                                "sent_bytes_per_call": 3000, "received_bytes_per_call": 900}] * 3,
                                     "http": [{"seconds_per_call": 0.006, "requests_per_call": 3}] * 3,
                                     "queue": [{"seconds_per_call": 0.004, "requests_per_call": 2}] * 3},
                    "block_cpu": {"whole": cpu(whole_cpu_ms), "queue": cpu(7.0), "peer": cpu(14.0), "sdk": cpu(9.0)},
                    "peer_storage": [{"requests": 1, "sent_bytes": 400, "received_bytes": 0}] * 3,
                    "repeats": [{"requests_per_call": 1, "graph_calls_per_call": 0, "sent_bytes_per_call": 0,
                                 "received_bytes_per_call": 2000}] * 3},
        "cold": {"runs": cold},
        "queue": {"latency_s": 0.1, "concurrency": 6, "ideal_per_s": 60.0,
                  "runs": {"broker": [_queue_run(queue_rate, 60)] * 3, "sdk": [_queue_run(57, 60)] * 3,
                           "peer": [_queue_run(55, 60)] * 3}},
        "rates": [{"rate": 20, "messages": 40, "runs": {"broker": [_queue_run(19, 40, failed)] * 3,
                                                        "sdk": [_queue_run(20, 40)] * 3,
                                                        "peer": [_queue_run(20, 40)] * 3}}],
    }


def _named(rows: list, prefix: str) -> dict:
    return next(r for r in rows if r["what"].startswith(prefix))


def test_rows_compute_each_ratio_against_its_goal():
    rows = build_rows(_data())
    floor, graph = rows[0], rows[1]
    assert floor["ratio"]["median"] == pytest.approx(0.08) and floor["met"] is None  # a measure, not a goal
    assert graph["ratio"]["median"] == pytest.approx(0.1) and graph["met"] is None  # retired goal: a measure
    whole, cpu, http, queue_cpu = rows[2:6]
    assert whole["ratio"]["median"] == pytest.approx(7 / 12) and whole["goal"] == "≤ 0.8"
    assert cpu["ratio"]["median"] == pytest.approx(6 / 14) and cpu["goal"] == "≤ 0.6"
    assert http["ratio"]["median"] == pytest.approx(9 / 12) and http["goal"] == "≤ 1"
    assert queue_cpu["ratio"]["median"] == pytest.approx(7 / 14) and queue_cpu["goal"] == "≤ 0.6"
    assert _named(rows, "(d)")["ratio"]["median"] == pytest.approx(0.1)
    imports = _named(rows, "(d0)")  # the floor under (d): a measure, no goal of its own
    assert imports["ratio"]["median"] == pytest.approx(0.2) and imports["met"] is None
    assert _named(rows, "(e)")["ratio"]["median"] == pytest.approx((1 / 3) / 1)  # tokens per 1,000: 0.333 vs 1
    assert _named(rows, "(f)")["ratio"]["median"] == pytest.approx(0.9)
    assert _named(rows, "(g)")["ratio"]["median"] == pytest.approx(0.95)
    assert _named(rows, "(r)")["met"] is True
    assert all(r["met"] is not False for r in rows), missed(rows)
    assert "waiting on Azurite 4.00 ms (2 storage requests, 3,000 B sent, 900 B received)" in whole["broker"]
    assert "1 storage request, 400 B sent" in whole["peer"] and "14.00 ms CPU" in cpu["peer"]
    assert "bench 0.50 = 9.3 ms/request" in _named(rows, "(f)")["broker"]
    assert "55.0/s with 6 jobs in flight" in _named(rows, "(f)")["peer"]
    table = markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "| yes |" in table and "| — | — |" in table
    assert "plain SDK implementation" in table.splitlines()[0]


def test_a_missed_goal_and_a_failed_request_are_named():
    data = _data(queue_rate=30.0, failed=1, whole_cpu_ms=9.0)
    data["latency"]["repeats"][0] = {**data["latency"]["repeats"][0], "requests_per_call": 2}
    rows = build_rows(data)
    assert [r["what"][:3] for r in rows if r["met"] is False] == ["(b)", "(r)", "(f)", "(g)"]
    assert "**no**" in markdown(rows)


def test_a_cpu_bound_queue_run_is_judged_against_what_one_core_allows_and_says_so():
    data = _data(queue_rate=30.0)
    data["queue"]["runs"]["broker"] = [_queue_run(30.0, 60, bench_cpu=0.9)] * 3  # 30 ms of CPU a message
    queue = _named(build_rows(data), "(f)")
    assert queue["ratio"]["median"] == pytest.approx(0.5)
    assert queue["met"] is True and "CPU-bound" in queue["goal"]
    assert "**CPU-bound**" in queue["broker"] and "at most 33.3/s here; 30.0/s is 0.90 of that" in queue["broker"]
    assert chart_data(data)["queue"]["cpu_bound_per_s"] == pytest.approx(1000 / 30)
    data["queue"]["runs"]["broker"] = [_queue_run(30.0, 60, bench_cpu=0.5)] * 3  # idle half the time: not the CPU
    queue = _named(build_rows(data), "(f)")
    assert queue["met"] is False and "CPU-bound" not in queue["broker"] + queue["goal"]
    data["rates"][0]["runs"]["broker"] = [_queue_run(10.0, 40, bench_cpu=0.95)] * 3
    limited = _named(build_rows(data), "(g)")
    assert limited["met"] is True and "at most 10.5/s" in limited["broker"]


def test_chart_data_has_every_series():
    chart = chart_data(_data())
    assert len(chart["latency"]) == 7 and all(len(xs) == len(ys) for xs, ys in chart["latency"].values())
    assert chart["cpu"]["plain SDK\nimplementation"]["own process"] == pytest.approx(14.0)
    assert chart["storage"]["broker (b)"]["requests"] == 2 and chart["storage"]["plain SDK implementation"]["requests"] == 1
    assert chart["queue"]["peer"][1][-1] == 60
    assert chart["cold"]["sdk"]["first call"] == 3.5 and chart["cold"]["imports"]["imports"] == 0.75
    assert chart["cold"]["broker"]["interpreter start"] == pytest.approx(0.4 - 0.31)
    assert chart["queue"]["ideal_per_s"] == 60.0 and chart["queue"]["broker"][1][-1] == 60
    assert chart["queue"]["cpu_bound_per_s"] is None  # the host's process had room
    assert chart["rates"][0]["rate"] == 20 and chart["rates"][0]["sdk"][1][-1] == 40
