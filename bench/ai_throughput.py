"""How fast the AI consumer categorizes from its queue: N ticket.created events already waiting,
one consumer process (the real `ai-categorization-service consumer`, local model, no Claude),
wall time and the process's CPU time until every one is categorized and in the outbox.

Usage: python bench/ai_throughput.py [--count 5000] [--batch-size 100] [--csv PATH]
Prints one line and writes var/bench/ai_throughput.json. Uses its own schema, exchange and
queue prefix on the local servers and removes them afterwards.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pika
import sqlalchemy as sa

from support_shared.db import drop_schema, ensure_database, make_engine
from support_shared.events import EventType, TicketCreated, new_event
from support_shared.messaging.connection import connect
from support_shared.testing.helpers import delete_broker_objects, unique_suffix

import suite_instance

logger = logging.getLogger("ai_throughput")
ROOT = Path(__file__).resolve().parent.parent
SERVICE = str(Path(sys.executable).parent / "ai-categorization-service")
DATASET = ROOT.parent / "shared" / "datasets" / "it_service_tickets_train.csv"
FALLBACK = ["Printer on floor 3 not printing", "VPN rejects my password",
            "Air conditioning broken in room 4.12", "Invoice 4411 paid twice"]


def texts(path: Path, count: int) -> list[str]:
    if path.exists():
        with path.open(newline="", encoding="utf-8") as f:
            rows = [r["Document"] for r in csv.DictReader(f) if r.get("Document")]
    else:
        rows = FALLBACK
    return [rows[i % len(rows)] for i in range(count)]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--prefetch", type=int, default=200)
    parser.add_argument("--csv", type=Path, default=DATASET)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "ai_throughput.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    suffix = "aibench" + unique_suffix()
    env = suite_instance.bench_env(suffix, suite_instance.DATABASE_URL, {
        "CONSUMER_BATCH_SIZE": str(args.batch_size), "PREFETCH_COUNT": str(args.prefetch),
        "LOG_LEVEL": "WARNING"})
    schema = env["AI_SERVICE_DB_SCHEMA"]
    ensure_database(suite_instance.DATABASE_URL)
    subprocess.run([SERVICE, "migrate"], env=env, check=True)
    engine = make_engine(suite_instance.DATABASE_URL, schema)
    queue = f"{env['QUEUE_PREFIX']}ai-categorization-service.ticket.created"
    now = datetime.now(timezone.utc)
    connection = connect(env.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
                         "ai-throughput-bench", heartbeat=0)
    proc = None
    try:
        channel = connection.channel()
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
        for i, text in enumerate(texts(args.csv, args.count), start=1):
            payload = TicketCreated(title=text[:80] or "ticket", description=text or "ticket",
                                    user_name="Bench", user_email="bench@example.com",
                                    priority="medium", created_at=now)
            event = new_event(EventType.TICKET_CREATED, payload, tenant_id="bench",
                              ticket_id=i, ticket_version=1)
            channel.basic_publish("", queue, event.to_json(), props)
        logger.info("%d events waiting in %s", args.count, queue)

        proc = subprocess.Popen([SERVICE, "consumer"], env=env)
        with engine.connect() as conn:   # the first categorization: the model is loaded
            while not conn.scalar(sa.text("SELECT count(*) FROM categorizations")):
                time.sleep(0.05)
        started, cpu0 = time.monotonic(), cpu_seconds(proc.pid)
        done = 0
        deadline = started + args.timeout
        while done < args.count and time.monotonic() < deadline:
            time.sleep(0.1)
            with engine.connect() as conn:
                done = conn.scalar(sa.text("SELECT count(*) FROM outbox"))
        wall, cpu = time.monotonic() - started, cpu_seconds(proc.pid) - cpu0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        connection.close()
        delete_broker_objects(env["QUEUE_PREFIX"], env["EVENT_EXCHANGE"])
        engine.dispose()
        drop_schema(make_engine(suite_instance.DATABASE_URL, "public"), schema)
    result = {"count": args.count, "categorized": done, "batch_size": args.batch_size,
              "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
              "tickets_per_s": round(done / wall, 1) if wall else None,
              "tickets_per_cpu_s": round(done / cpu, 1) if cpu else None,
              "load_average": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"AI consumer: {done}/{args.count} categorized in {wall:.1f} s = "
          f"{result['tickets_per_s']}/s wall, {result['tickets_per_cpu_s']} per CPU-second "
          f"(batch {args.batch_size}; load average {result['load_average'][0]:.1f})")
    return 0 if done == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
