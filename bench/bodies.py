"""Ticket bodies for the load: real IT service tickets from the shared data set when present,
generated ones otherwise; written one JSON document a line for wrk's Lua scripts."""
from __future__ import annotations

import csv
import json
import logging
import random
from pathlib import Path

from support_shared.events import PRIORITIES as VALID_PRIORITIES

logger = logging.getLogger(__name__)

# ../shared/datasets relative to the repository
DATASET = (Path(__file__).resolve().parents[2] / "shared" / "datasets"
           / "it_service_tickets_train.csv")
# Mostly "medium", as in a real queue; every value the API accepts appears.
PRIORITIES = tuple(p for p in VALID_PRIORITIES
                   for _ in range(3 if p == "medium" else 1))
TITLE_WORDS = 8
MAX_DESCRIPTION = 2000
WORDS = ("printer", "vpn", "password", "laptop", "payroll", "invoice", "badge", "desk", "email",
         "access", "monitor", "leave", "expense", "heating", "license", "reset", "broken", "slow")


def _from_dataset(path: Path, count: int, rng: random.Random) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        docs = [row["Document"].strip() for row in csv.DictReader(f)]
    docs = [d for d in docs if d]
    return rng.sample(docs, min(count, len(docs)))


def _generated(count: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 80))) for _ in range(count)]


def ticket_bodies(count: int = 2000, seed: int = 7,
                  dataset: Path = DATASET) -> list[dict[str, str]]:
    """``count`` valid POST /api/tickets bodies (title = first words, description = the text)."""
    rng = random.Random(seed)
    if dataset.exists():
        texts = _from_dataset(dataset, count, rng)
        logger.info("ticket bodies: %d documents from %s", len(texts), dataset)
    else:
        texts = _generated(count, rng)
        logger.info("ticket bodies: %s not found; %d generated texts", dataset, len(texts))
    bodies = []
    for i, text in enumerate(texts):
        user = rng.randrange(500)  # a realistic mix of new and returning requesters
        bodies.append({
            "title": " ".join(text.split()[:TITLE_WORDS])[:200],
            "description": text[:MAX_DESCRIPTION],
            "user_name": f"Bench User {user}",
            "user_email": f"bench.user{user}@example.com",
            "priority": PRIORITIES[i % len(PRIORITIES)],
        })
    return bodies


def write_lines(bodies: list[dict[str, str]], path: Path) -> Path:
    """One compact JSON document a line (what the Lua scripts read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(b, separators=(",", ":")) + "\n" for b in bodies))
    return path
