"""Pure helpers of ``python -m bench.compare`` (no I/O, unit-tested in tests/unit/test_compare_stats.py): the order
of alternating blocks, ratios with min–max over repetitions, goals, the Markdown table and the chart's data."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Sequence


def schedule(reps: int, kinds: Sequence[str]) -> list[list[str]]:
    """The order of the blocks in each repetition: the kinds rotated by one more place each time, so that every
    kind runs first, last and in between as often as the repetitions allow (warm caches, a busy neighbour and
    the growth of the stand-ins' state fall on both sides alike)."""
    if reps < 1 or not kinds:
        raise ValueError("at least one repetition and one kind")
    k = len(kinds)
    return [[kinds[(i + r) % k] for i in range(k)] for r in range(reps)]


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (as bench.run)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    if not samples:
        raise ValueError("no samples")
    return statistics.median(samples)


@dataclass(frozen=True)
class Spread:
    """One ratio over the repetitions: the median of the per-repetition ratios, and their min and max."""

    median: float
    low: float
    high: float
    reps: int

    def text(self, digits: int = 2) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "reps": self.reps}


def spread(ratios: Iterable[float]) -> Spread:
    values = [r for r in ratios if r is not None and math.isfinite(r)]
    if not values:
        raise ValueError("no finite ratio")
    return Spread(statistics.median(values), min(values), max(values), len(values))


def block_ratios(numerator: Sequence[Sequence[float]], denominator: Sequence[Sequence[float]]) -> list[float]:
    """Per repetition: median(numerator block) / median(denominator block)."""
    if len(numerator) != len(denominator):
        raise ValueError("one block per repetition on each side")
    return [median(a) / median(b) for a, b in zip(numerator, denominator)]


@dataclass(frozen=True)
class Goal:
    """``ratio <op> value``; the median over the repetitions is what must meet it."""

    op: str  # "<=" or ">="
    value: float

    def met(self, ratio: float) -> bool:
        if self.op == "<=":
            return ratio <= self.value
        if self.op == ">=":
            return ratio >= self.value
        raise ValueError(f"unknown goal operator {self.op!r}")

    def text(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.value:g}"


def tokens_per_1000(tokens: int, meetings: int) -> float:
    return round(tokens * 1000 / meetings, 3) if meetings else float("nan")


def throughput(count: int, wall: float) -> float:
    """Requests per second: ``count`` finished requests over ``wall`` seconds (0 when nothing finished)."""
    return count / wall if wall > 0 and count else 0.0


def ideal_rate(concurrency: int, latency_s: float) -> float:
    """What a client with ``concurrency`` requests in flight reaches when each takes exactly ``latency_s``."""
    return concurrency / latency_s


def row(what: str, broker: str, sdk: str, ratio: Spread | None, goal: Goal | None, peer: str = "—") -> dict[str, Any]:
    met = None if ratio is None or goal is None else goal.met(ratio.median)
    return {"what": what, "broker": broker, "sdk": sdk, "peer": peer, "ratio": ratio.as_dict() if ratio else None,
            "ratio_text": ratio.text() if ratio else "—", "goal": goal.text() if goal else "—", "met": met}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| what | broker | msgraph-sdk (bare call) | plain SDK implementation | ratio (min–max) | goal | met? |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        met = "—" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['what']} | {r['broker']} | {r['sdk']} | {r.get('peer', '—')} | {r['ratio_text']} | "
                     f"{r['goal']} | {met} |")
    return "\n".join(lines)


def missed(rows: Sequence[dict[str, Any]]) -> list[str]:
    return [r["what"] for r in rows if r["met"] is False]


def ecdf(samples: Sequence[float], points: int = 200) -> tuple[list[float], list[float]]:
    """The empirical distribution as at most ``points`` (value, fraction ≤ value) pairs, for the chart."""
    ordered = sorted(samples)
    n = len(ordered)
    if n == 0:
        return [], []
    step = max(1, n // points)
    picks = list(range(step - 1, n, step))
    if picks[-1] != n - 1:
        picks.append(n - 1)
    return [ordered[i] for i in picks], [(i + 1) / n for i in picks]


def cumulative(completions: Sequence[float], points: int = 200) -> tuple[list[float], list[int]]:
    """Finished requests over time as at most ``points`` (seconds, count) pairs, starting at (0, 0)."""
    xs, ys = ecdf(completions, points)
    n = len(completions)
    return [0.0, *xs], [0, *(round(y * n) for y in ys)]
