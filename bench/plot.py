"""The bench's plot: one panel per phase, throughput (left axis) and p95 latency (right axis,
log scale) per 1 s window, from a run's ``timeseries`` (bench/run.py draws it after every run).

Re-plot a saved run:  python bench/plot.py var/bench/latest.json out.png"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PHASES = ("create", "reads", "steady", "burst", "drain")
# series key -> (legend, colour); throughput on the left axis, latency on the right
RATES = {"answered_per_s": ("answered/s (client, 2xx)", "tab:blue"),
         "created_per_s": ("created/s (server)", "tab:cyan"),
         "routed_per_s": ("routed/s (server)", "tab:green")}
LATENCIES = {"latency_p95_ms": ("request p95 ms (client)", "tab:red"),
             "low_latency_p95_ms": ("low stream create p95 ms (client)", "tab:brown"),
             "created_to_routed_p95_ms": ("create->routed p95 ms (by creation)", "tab:purple")}


def panels(results: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(title, phase result) of every phase, or part of one (reads), that has a time series
    with samples (wrk's reads have none: it reports no per-request times)."""
    names = [p for p in PHASES if p in results] + [p for p in results if p not in PHASES]
    for name in names:
        node = results[name]
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("timeseries"), dict):
            if node["timeseries"].get("t_s"):
                yield name, node
            continue
        for part, sub in node.items():
            if (isinstance(sub, dict) and isinstance(sub.get("timeseries"), dict)
                    and sub["timeseries"].get("t_s")):
                yield f"{name}: {part}", sub


def _values(series: list[float | None], n: int) -> list[float]:
    """``n`` values, None as a gap (a series cut short is padded with gaps)."""
    return [math.nan if v is None else v for v in series[:n]] + [math.nan] * (n - len(series))


def _headline(name: str, node: dict[str, Any]) -> str:
    lat = node.get("latency_ms") or {}
    if name == "burst":
        return (f"burst {node.get('burst', {}).get('ok_per_s')}/s; recovery: "
                f"{node.get('recovery')}")
    if name == "steady":
        return (f"create p95 {lat.get('p95')} ms, create->routed p95 "
                f"{(node.get('created_to_routed_ms') or {}).get('p95')} ms")
    if name == "drain":
        return f"{node.get('tickets_per_s')} tickets/s end to end"
    return f"{node.get('ok_per_s')}/s, p99 {lat.get('p99')} ms"


def _panel(ax: Any, name: str, node: dict[str, Any]) -> None:
    ts = node["timeseries"]
    half = ts.get("window_s", 1.0) / 2
    x = [t + half for t in ts["t_s"]]
    for key, (label, colour) in RATES.items():
        if ts.get(key):
            ax.plot(x, _values(ts[key], len(x)), label=label, color=colour, linewidth=1.2)
    latencies = [key for key in LATENCIES if ts.get(key) and any(v for v in ts[key])]
    right = ax.twinx() if latencies else None
    for key in latencies:
        label, colour = LATENCIES[key]
        right.plot(x, _values(ts[key], len(x)), label=label, color=colour, linewidth=1.0,
                   linestyle="--")
    if right is not None:
        right.set_yscale("log")
        right.set_ylabel("p95 ms (log)")
    if ts.get("burst_end_s") is not None:
        ax.axvspan(0, ts["burst_end_s"], color="tab:orange", alpha=0.12, label="burst")
        if right is not None:
            threshold = (node.get("settings") or {}).get("threshold_ms", 200)
            right.axhline(threshold, color="grey", linewidth=0.8, linestyle=":")
    if ts.get("recovered_at_s") is not None:
        ax.axvline(ts["recovered_at_s"], color="black", linewidth=1.0, label="recovered")
    ax.set_title(f"{name}: {_headline(name.split(':')[0], node)}", fontsize=10, loc="left")
    ax.set_xlabel("s since the phase began")
    ax.set_ylabel("per second")
    ax.set_ylim(bottom=0)
    handles = [h for a in (ax, right) if a is not None for h in a.get_legend_handles_labels()[0]]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper right")
    if not x:
        ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center")


def write_png(run: dict[str, Any], path: Path) -> Path:
    """Draw ``run`` (a latest.json document, or just its ``results``) into the PNG ``path``."""
    results = run.get("results", run)
    found = list(panels(results))
    fig = Figure(figsize=(11, 3.0 * max(1, len(found)) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(found)), 1, squeeze=False)[:, 0]
    for ax, (name, node) in zip(axes, found):
        _panel(ax, name, node)
    if not found:
        axes[0].text(0.5, 0.5, "no time series in this run", ha="center")
    fig.suptitle(f"bench {run.get('started_at', '')} {run.get('label', '')}".strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python bench/plot.py RESULTS.json OUT.png\n")
        return 2
    out = write_png(json.loads(Path(args[0]).read_text()), Path(args[1]))
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
