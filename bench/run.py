"""`make bench`: load the running suite through the gateway, print the targets table, write
var/bench/latest.json and plot it to var/bench/latest.png. `--own-suite` starts a private suite
instance (free ports, own schemas and exchange) instead, with `--set NAME=VALUE` environment
levers, and removes it afterwards."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

import bodies as bodies_mod
import burst
import machine
import phases
import profiler
import report
import wrk_driver
from procs import load_pids, memory_peaks, memory_report
from suite_instance import SuiteInstance

logger = logging.getLogger("bench")

ALL_PHASES = ("create", "reads", "steady", "burst", "drain")
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class Budget:
    """The whole measurement must end within ``total_s``: waits get what later phases leave."""

    def __init__(self, total_s: float) -> None:
        self.total_s = total_s
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.total_s - (time.monotonic() - self.started)

    def wait(self, cap_s: float, reserve_s: float) -> float:
        """A deadline for one wait: at most ``cap_s``, leaving ``reserve_s`` for what follows."""
        return max(5.0, min(cap_s, self.remaining() - reserve_s))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__)
    p.add_argument("--base-url", default="http://127.0.0.1:5000")
    p.add_argument("--pids-file", type=Path, default=Path("var/run/suite.json"))
    p.add_argument("--key-file", type=Path, default=Path("var/dev-api-key"),
                   help="API key file (BENCH_API_KEY overrides); none: no Authorization header")
    p.add_argument("--own-suite", action="store_true",
                   help="start a private suite instance for the run (ignores --base-url)")
    p.add_argument("--set", dest="env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the private suite (WEB_WORKERS=4, PREFETCH_COUNT=200...)")
    p.add_argument("--replace", action="append", default=[], metavar="NAME=COMMAND",
                   help="private suite: run COMMAND instead of process NAME (a patched build)")
    p.add_argument("--phases", default=",".join(ALL_PHASES))
    p.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--create-seconds", type=float, default=20)
    p.add_argument("--read-seconds", type=float, default=10)
    p.add_argument("--steady-rate", type=float, default=100)
    p.add_argument("--steady-seconds", type=float, default=30)
    p.add_argument("--burst-seconds", type=float, default=20,
                   help="burst phase: seconds of creates at --connections")
    p.add_argument("--burst-low-rate", type=float, default=20,
                   help="burst phase: creates/s of the low open-loop stream beside the burst")
    p.add_argument("--burst-cap", type=float, default=60,
                   help="burst phase: the low stream ends at most this long after the burst")
    p.add_argument("--drain-count", type=int, default=10_000)
    p.add_argument("--drain-connections", type=int, default=100)
    p.add_argument("--drain-deadline", type=float, default=90,
                   help="at most this many seconds of waiting for the pipeline after the "
                        "create and steady loads")
    p.add_argument("--budget", type=float, default=390,
                   help="seconds the measurement may take in all (the drain gets the rest)")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="py-spy every suite process during the create phase; reports into DIR")
    p.add_argument("--out", type=Path, default=Path("var/bench/latest.json"))
    p.add_argument("--label", default="")
    return p.parse_args(argv)


def _key(path: Path) -> str | None:
    if os.environ.get("BENCH_API_KEY"):
        return os.environ["BENCH_API_KEY"]
    return path.read_text().strip() if path.exists() else None


def preflight(base_url: str, key: str | None) -> None:
    health = requests.get(f"{base_url}/api/health", timeout=10)
    if health.status_code != 200:
        raise SystemExit(f"{base_url}/api/health answered {health.status_code}: is the suite up?")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    probe = requests.get(f"{base_url}/api/tickets?limit=1", headers=headers, timeout=10)
    if probe.status_code in (401, 403):
        raise SystemExit(f"the gateway refuses the bench ({probe.status_code}): put an API key "
                         "in var/dev-api-key or BENCH_API_KEY")
    probe.raise_for_status()


def _generator(choice: str) -> str:
    if choice == "auto":
        return "wrk" if wrk_driver.available() else "python"
    if choice == "wrk" and not wrk_driver.available():
        raise SystemExit("wrk is not installed: apt-get install -y wrk (or --generator python)")
    return choice


def _context(args: argparse.Namespace, base_url: str, key: str | None, pids: dict[str, int],
             work_dir: Path, env: dict[str, str]) -> phases.Context:
    ticket_bodies = bodies_mod.ticket_bodies()
    ctx = phases.Context(
        base_url=base_url, key=key, pids=pids, bodies=ticket_bodies,
        bodies_file=bodies_mod.write_lines(ticket_bodies, work_dir / "bodies.jsonl"),
        work_dir=work_dir, generator=_generator(args.generator),
        rabbitmq_url=env.get("RABBITMQ_URL", DEFAULT_RABBITMQ_URL),
        queue_prefix=env.get("QUEUE_PREFIX", ""), connections=args.connections)
    ctx.start_counters = ctx.gw.counters()
    return ctx


def _create(args: argparse.Namespace, ctx: phases.Context, deadline_s: float,
            results: dict[str, Any]) -> list[int]:
    """The create phase (under py-spy with --profile); returns the created ids."""
    spy = profiler.Profiler(ctx.pids, args.profile, args.create_seconds) if args.profile else None
    if spy:
        spy.start()
    results["create"] = phases.create(ctx, args.create_seconds, deadline_s)
    if spy:
        results["profile"] = spy.finish()
    if results["create"]["statuses"].get("429"):
        logger.warning("the gateway rate-limited the bench: start the suite with "
                       "GATEWAY_RATE_LIMIT=100000000/minute")
    return results["create"].pop("ids")


def measure(args: argparse.Namespace, base_url: str, key: str | None, pids_file: Path,
            work_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    budget = Budget(args.budget)
    preflight(base_url, key)
    pids = load_pids(pids_file) if pids_file.exists() else {}
    if not pids:
        logger.warning("no live processes in %s: no memory or CPU figures", pids_file)
    ctx = _context(args, base_url, key, pids, work_dir, env)
    wanted = set(args.phases.split(","))
    later = {"reads": 2 * args.read_seconds + 5, "steady": args.steady_seconds + 15,
             "burst": args.burst_seconds + args.burst_cap + 20, "drain": 60.0}

    def reserve(phase: str) -> float:
        """Seconds the phases after ``phase`` need (their waits get what is left)."""
        return sum(v for k, v in later.items()
                   if k in wanted and ALL_PHASES.index(k) > ALL_PHASES.index(phase))

    results: dict[str, Any] = {"memory_idle": memory_report(pids)}
    ids: list[int] = []
    if "create" in wanted:
        ids = _create(args, ctx, budget.wait(args.drain_deadline, reserve("create")), results)
    if "reads" in wanted:
        results["reads"] = phases.reads(ctx, ids, args.read_seconds)
    if "steady" in wanted:
        results["steady"] = phases.steady(ctx, args.steady_rate, args.steady_seconds,
                                          budget.wait(args.drain_deadline, reserve("steady")))
    if "burst" in wanted:
        settings = burst.BurstSettings(burst_s=args.burst_seconds, low_rate=args.burst_low_rate,
                                       cap_s=args.burst_cap)
        results["burst"] = burst.run(ctx, settings,
                                     budget.wait(args.drain_deadline, reserve("burst")))
    if "drain" in wanted:
        results["drain"] = phases.drain(ctx, args.drain_count, args.drain_connections,
                                        budget, reserve_s=5.0)
    results["memory_after"] = memory_report(pids)
    results["memory"] = memory_peaks(results["memory_idle"], results["memory_after"])
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    started = time.monotonic()
    work_dir = args.out.parent / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    overrides = dict(item.split("=", 1) for item in args.env)
    run: dict[str, Any] = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "label": args.label, "machine": machine.describe(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "profile")}
        | {"overrides": overrides},
    }
    if args.own_suite:
        replace = dict(item.split("=", 1) for item in args.replace)
        instance = SuiteInstance(work_dir / "suite", overrides, replace=replace)
        try:
            instance.start()
            run["results"] = measure(args, instance.base_url, instance.key,
                                     instance.pids_file, work_dir, instance.env)
        finally:
            instance.stop()
    else:
        run["results"] = measure(args, args.base_url.rstrip("/"), _key(args.key_file),
                                 args.pids_file, work_dir, dict(os.environ))
    run["elapsed_s"] = round(time.monotonic() - started, 1)
    run["targets"] = report.rows(run["results"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run, indent=1, default=str))
    args.out.with_suffix(".md").write_text(report.details_markdown(run))
    sys.stdout.write(report.table(run["targets"]) + "\n")
    sys.stdout.write(f"\n{run['elapsed_s']}s; load average at start "
                     f"{run['load_average_at_start']}; details in {args.out}\n")
    png = _plot(run, args.out.with_suffix(".png"))
    if png:
        sys.stdout.write(f"plot: {png}\n")
    return 0


def _plot(run: dict[str, Any], path: Path) -> Path | None:
    """The per-phase plot (bench/plot.py); a missing matplotlib costs the plot, not the run."""
    try:
        import plot
    except ImportError as exc:
        logger.warning("no plot (%r): pip install -r requirements-dev.txt", exc)
        return None
    return plot.write_png(run, path)


if __name__ == "__main__":
    sys.exit(main())
