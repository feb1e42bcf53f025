"""Measure configuration levers one at a time, each on a fresh private suite (bench/run.py
--own-suite): creation under load and a drain, plus CPU per ticket of every process.
Writes var/bench/levers.json and prints a markdown table (the one in docs/performance.md)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger("levers")

RUN = Path(__file__).with_name("run.py")
# name -> extra arguments of bench/run.py; "baseline" is the default configuration.
LEVERS: dict[str, list[str]] = {
    "baseline": [],
    "generator=python": ["--generator", "python"],
    "WEB_WORKERS=1": ["--set", "WEB_WORKERS=1"],
    "WEB_WORKERS=4": ["--set", "WEB_WORKERS=4"],
    "WEB_THREADS=16": ["--set", "WEB_THREADS=16"],
    "WEB_WORKERS=4,WEB_THREADS=1": ["--set", "WEB_WORKERS=4", "--set", "WEB_THREADS=1"],
    "MALLOC_ARENA_MAX=2": ["--set", "MALLOC_ARENA_MAX=2"],
    "PREFETCH_COUNT=1": ["--set", "PREFETCH_COUNT=1"],
    "PREFETCH_COUNT=500": ["--set", "PREFETCH_COUNT=500"],
    "RELAY_BATCH_SIZE=20": [f"--set={p}RELAY_BATCH_SIZE=20" for p in
                            ("TICKET_SERVICE_", "AI_SERVICE_", "ROUTING_SERVICE_")],
    "RELAY_BATCH_SIZE=1000": [f"--set={p}RELAY_BATCH_SIZE=1000" for p in
                              ("TICKET_SERVICE_", "AI_SERVICE_", "ROUTING_SERVICE_")],
}
CPU_COLUMNS = ("gateway", "ticket-web", "postgresql", "rabbitmq", "ai-consumer",
               "routing-consumer", "analytics-consumer")


def run_one(name: str, extra: list[str], common: list[str], out_dir: Path) -> dict[str, Any]:
    out = out_dir / f"{name.replace('=', '-').replace(',', '_')}.json"
    cmd = [sys.executable, str(RUN), "--own-suite", "--label", name, "--out", str(out),
           *common, *extra]
    logger.info("%s (load average %s)", name, os.getloadavg())
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        logger.error("%s failed: %s", name, done.stderr[-2000:])
        return {"lever": name, "error": done.stderr[-500:]}
    return summary(name, json.loads(out.read_text()))


def summary(name: str, run: dict[str, Any]) -> dict[str, Any]:
    r = run["results"]
    create, drain = r.get("create", {}), r.get("drain", {})
    per = create.get("resources", {}).get("cpu_ms_per_ticket", {})
    return {
        "lever": name,
        "load_average": run["load_average_at_start"][0],
        "create_per_s": create.get("ok_per_s"),
        "create_p50_ms": create.get("latency_ms", {}).get("p50"),
        "create_p99_ms": create.get("latency_ms", {}).get("p99"),
        "create_errors": (create.get("non_2xx") or 0) + (create.get("socket_error_total") or 0),
        "lost": create.get("lost"),
        "generator_cpu_share": create.get("generator_cpu_share"),
        "drain_per_s": drain.get("tickets_per_s"),
        "drain_done": drain.get("done"),
        "cpu_ms_per_ticket": {k: per.get(k) for k in CPU_COLUMNS},
        "max_rss_mb": r.get("memory", {}).get("max_process_rss_mb"),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["lever", "load avg", "create/s", "p50 ms", "p99 ms", "errors", "lost",
            "drain/s", *[f"{c} ms/ticket" for c in CPU_COLUMNS], "max RSS MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['lever']} | failed |")
            continue
        drain = row["drain_per_s"]
        drain_text = "-" if drain is None else f"{drain}" + ("" if row["drain_done"] else "*")
        cells = [row["lever"], row["load_average"], row["create_per_s"], row["create_p50_ms"],
                 row["create_p99_ms"], row["create_errors"], row["lost"], drain_text,
                 *[row["cpu_ms_per_ticket"].get(c) for c in CPU_COLUMNS], row["max_rss_mb"]]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/levers.py", description=__doc__)
    p.add_argument("--only", help="comma-separated lever names (default: all)")
    p.add_argument("--out-dir", type=Path, default=Path("var/bench/levers"))
    p.add_argument("--create-seconds", default="15")
    p.add_argument("--drain-count", default="1500")
    p.add_argument("--replace", action="append", default=[], metavar="NAME=COMMAND",
                   help="passed to every run (a patched process under test)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = args.only.split(",") if args.only else list(LEVERS)
    common = ["--phases", "create,drain", "--create-seconds", args.create_seconds,
              "--drain-count", args.drain_count, "--budget", "240",
              *[f"--replace={r}" for r in args.replace]]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = [run_one(name, LEVERS[name], common, args.out_dir) for name in names]
    (args.out_dir / "levers.json").write_text(json.dumps(rows, indent=1))
    sys.stdout.write(markdown(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
