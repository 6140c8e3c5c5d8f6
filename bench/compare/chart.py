"""Draw the PNG of a ``python -m bench.compare`` run from its JSON (the ``chart`` member). Runs in ``.venv-sdk``, where
matplotlib is; imports nothing of the repository.

    python bench/compare/chart.py bench/results/compare-<UTC>.json bench/results/compare-<UTC>.png
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BROKER, SDK, PEER, IDEAL = "#1f6feb", "#d1242f", "#1a7f37", "#6e7781"
SIDES = (("broker", BROKER, "broker: queue workers of the local host"), ("sdk", SDK, "SDK bare call: same concurrency"),
         ("peer", PEER, "plain SDK implementation: same concurrency"))


def draw(data: dict, png: Path) -> None:
    chart = data["chart"]
    fig, axes = plt.subplots(2, 3, figsize=(21, 10))
    fig.suptitle(f"Teams Meeting Broker vs msgraph-sdk and the plain SDK implementation — {data['date']} "
                 f"({data['mode']}), {data['machine']['cores']} cores", fontsize=13)

    ax = axes[0][0]
    styles = {"SDK": (SDK, "-"), "plain SDK": (PEER, "-"), "bare requests": (IDEAL, "-."),
              "broker: Graph": (BROKER, "-"), "broker: whole": (BROKER, "--"), "broker: HTTP": (BROKER, ":"),
              "broker: queue": (BROKER, "-.")}
    for label, (xs, ys) in chart["latency"].items():
        color, line = next((v for k, v in styles.items() if label.startswith(k)), ("black", "-"))
        ax.plot(xs, ys, color=color, linestyle=line, linewidth=2, label=label)
    ax.set_xscale("log")
    ticks = [t for t in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
             if min(min(xs) for xs, _ in chart["latency"].values()) / 2 <= t
             <= max(max(xs) for xs, _ in chart["latency"].values()) * 2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("latency per request, ms (log scale)")
    ax.set_ylabel("fraction of requests ≤ x")
    ax.set_title("(a)–(c) latency distributions, all blocks")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)

    ax = axes[0][1]
    sides = list(chart["cold"])
    bottoms = [0.0] * len(sides)
    stages = list(next(iter(chart["cold"].values())))
    shades = ["#d0d7de", "#8c959f", "#57606a", "#24292f"]
    for stage, shade in zip(stages, shades):
        values = [chart["cold"][side][stage] for side in sides]
        ax.bar(sides, values, bottom=bottoms, color=shade, label=stage, edgecolor="white")
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for i, total in enumerate(bottoms):
        ax.text(i, total, f"{total:.2f} s", ha="center", va="bottom")
    ax.set_ylabel("seconds (medians)")
    ax.set_title("(d) cold start: new process → first meeting created; (d0) imports alone")
    ax.legend(fontsize=9)

    ax = axes[1][0]
    queue = chart["queue"]
    for side, color, label in SIDES:
        if side in queue:
            xs, ys = queue[side]
            ax.plot(xs, ys, color=color, linewidth=2, label=label)
    top = max(max(queue[side][1]) for side, _, _ in SIDES if side in queue)
    ax.plot([0, top / queue["ideal_per_s"]], [0, top], color=IDEAL, linestyle="--",
            label=f"ideal: {queue['ideal_per_s']:g}/s")
    if queue.get("cpu_bound_per_s"):
        ax.plot([0, top / queue["cpu_bound_per_s"]], [0, top], color=IDEAL, linestyle=":",
                label=f"CPU-bound: one core allows {queue['cpu_bound_per_s']:.1f}/s")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests finished")
    ax.set_title(f"(f) throughput with Graph answering after {queue['latency_ms']:g} ms (median run)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)

    ax = axes[1][1]
    for limited, line in zip(chart["rates"], ("-", "--", ":", "-.")):
        tops = []
        for side, color, _ in SIDES:
            if side not in limited:
                continue
            xs, ys = limited[side]
            tops.append(max(ys))
            ax.plot(xs, ys, color=color, linestyle=line, linewidth=2, label=f"{side}, R = {limited['rate']:g}/s")
        ax.plot([0, max(tops) / limited["rate"]], [0, max(tops)], color=IDEAL, linestyle=line, linewidth=1,
                label=f"R × t, R = {limited['rate']:g}/s")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests finished (successfully)")
    ax.set_title("(g) throughput under a Graph limited to R requests/s (median run)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[0][2]
    sides = list(chart["cpu"])
    bottoms = [0.0] * len(sides)
    for stage, shade in zip(("own process", "Azurite"), ("#24292f", "#8c959f")):
        values = [chart["cpu"][side][stage] for side in sides]
        ax.bar(sides, values, bottom=bottoms, color=shade, label=stage, edgecolor="white")
        for i, value in enumerate(values):
            ax.text(i, bottoms[i] + value / 2, f"{value:.1f}", ha="center", va="center", color="white", fontsize=9)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    ax.set_ylabel("CPU ms per request (medians of the blocks)")
    ax.set_title("CPU per request: the side's own process and Azurite")
    ax.legend(fontsize=9)

    ax = axes[1][2]
    names = list(chart["storage"])
    for offset, (key, label) in enumerate((("sent_bytes", "bytes sent"), ("received_bytes", "bytes received"))):
        values = [chart["storage"][name][key] for name in names]
        ax.bar([i + offset * 0.4 for i in range(len(names))], values, width=0.4, label=label,
               color=("#57606a", "#d0d7de")[offset])
    ax.set_xticks([i + 0.2 for i in range(len(names))],
                  [f"{name}\n{chart['storage'][name]['requests']:g} storage requests" for name in names])
    ax.set_ylabel("bytes per new meeting (request and response bodies)")
    ax.set_title("Storage round trips and bytes per new meeting")
    ax.legend(fontsize=9)

    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
