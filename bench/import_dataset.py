"""Import the shared data set with ``ticketctl import`` (batch upsert) and time it: the import,
the re-import (nothing changes), and until every ticket is routed.

    .venv/bin/python bench/import_dataset.py --own-suite          # a private suite instance
    .venv/bin/python bench/import_dataset.py                      # the suite of `make up`
    make bench-import BENCH_ARGS="--own-suite --limit 5000"

Prints one JSON object (also written to ``var/bench/import.json``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from suite_instance import SuiteInstance
from ticketctl.cli import cli as ticketctl_cli

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / \
    "it_service_tickets_train.csv"
logger = logging.getLogger("bench.import")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--file", type=Path, default=DATASET)
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--own-suite", action="store_true", help="start a private suite instance")
    p.add_argument("--base-url", default="http://127.0.0.1:5000")
    p.add_argument("--key-file", type=Path, default=Path("var/dev-api-key"))
    p.add_argument("--set", dest="env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the private suite (e.g. WEB_WORKERS=2)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--routed-timeout", type=float, default=3600.0)
    p.add_argument("--out", type=Path, default=Path("var/bench/import.json"))
    return p.parse_args(argv)


def run_import(base_url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = ["import", str(args.file), "--json", "--concurrency", str(args.concurrency)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    started = time.monotonic()
    result = CliRunner().invoke(ticketctl_cli, cmd, env={"GATEWAY_URL": base_url,
                                                         "TICKETCTL_API_KEY": key})
    took = time.monotonic() - started
    if result.exit_code != 0:
        raise SystemExit(f"import failed ({result.exit_code}): {result.output[-2000:]}")
    summary = json.loads(result.stdout)
    rows = summary["created"] + summary["already_present"] + summary["updated"]
    return {"seconds": round(took, 1), "rows_per_second": round(rows / took, 1),
            **{k: summary[k] for k in ("created", "already_present", "updated", "failed")}}


def unrouted(base_url: str, key: str, total: int) -> int | None:
    """Tickets of the tenant not routed yet (None while the export does not hold them all)."""
    resp = requests.get(f"{base_url}/api/tickets/export", params={"limit": total + 1},
                        headers={"Authorization": f"Bearer {key}"}, timeout=300)
    resp.raise_for_status()
    tickets = [json.loads(line)["ticket"] for line in resp.iter_lines() if line]
    if len(tickets) < total:
        return None
    return sum(t["department"] is None for t in tickets)


def summary_routed(base_url: str, key: str) -> int:
    resp = requests.get(f"{base_url}/api/dashboard/summary", timeout=30,
                        headers={"Authorization": f"Bearer {key}"})
    resp.raise_for_status()
    return sum(resp.json()["by_department"].values())


def wait_routed(base_url: str, key: str, total: int, started: float, timeout_s: float
                ) -> dict[str, Any]:
    """Seconds from ``started`` until every ticket is routed: analytics' count first (cheap),
    then the export confirms it on the tickets themselves. At the timeout: how many were."""
    while time.monotonic() - started < timeout_s:
        if summary_routed(base_url, key) >= total and unrouted(base_url, key, total) == 0:
            return {"all_routed_after_s": round(time.monotonic() - started, 1)}
        time.sleep(2)
    left = unrouted(base_url, key, total)
    logger.warning("not every ticket routed within %g s (%s left)", timeout_s, left)
    return {"all_routed_after_s": None, "unrouted_at_timeout": left,
            "timeout_s": timeout_s}


def measure(base_url: str, key: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    first = run_import(base_url, key, args)
    logger.info("import: %s", first)
    total = first["created"] + first["already_present"] + first["updated"]
    routed = wait_routed(base_url, key, total, started, args.routed_timeout)
    logger.info("%d rows; routing: %s (seconds from the import's start)", total, routed)
    again = run_import(base_url, key, args)
    return {"rows": total, "import": first, "routing": routed, "reimport": again}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    if not args.file.exists():
        raise SystemExit(f"data set not found at {args.file}")
    run: dict[str, Any] = {"file": str(args.file), "limit": args.limit,
                           "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                           "cpus": os.cpu_count()}
    if args.own_suite:
        overrides = dict(item.split("=", 1) for item in args.env)
        instance = SuiteInstance(args.out.parent / "work" / "import-suite", overrides)
        try:
            instance.start()
            run["results"] = measure(instance.base_url, instance.key or "", args)
        finally:
            instance.stop()
    else:
        run["results"] = measure(args.base_url.rstrip("/"), args.key_file.read_text().strip(),
                                 args)
    run["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run, indent=1))
    sys.stdout.write(json.dumps(run, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
