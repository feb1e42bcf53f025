"""Fixtures of every AI service test: small labelled ticket sets a model can learn quickly."""
import random
from typing import Callable

import pytest

VOCABULARY = {
    "Network": ["vpn", "wifi", "router", "switch", "firewall", "latency", "dns", "cable"],
    "Money": ["invoice", "refund", "budget", "payment", "receipt", "tax", "expense", "vendor"],
    "Building": ["heating", "lift", "window", "toilet", "carpet", "door", "lights", "desk"],
}
SHARED_WORDS = ["please", "help", "today", "again", "broken", "urgent", "team", "issue"]

LabelledRows = Callable[..., tuple[list[str], list[str]]]


def _labelled_rows(per_label: int = 20, seed: int = 1,
                   lower: bool = False) -> tuple[list[str], list[str]]:
    """Short "title\\n\\nbody" texts mixing their label's words with words all labels use;
    ``lower``: the labels in lower case."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in VOCABULARY.items():
        for _ in range(per_label):
            body = rng.sample(words, 3) + rng.sample(SHARED_WORDS, 3)
            rng.shuffle(body)
            texts.append(f"{' '.join(rng.sample(words, 2)).title()}\n\n{' '.join(body)}")
            labels.append(label.lower() if lower else label)
    return texts, labels


@pytest.fixture(scope="session")
def labelled_rows() -> LabelledRows:
    """``labelled_rows(per_label=20, seed=1, lower=False)`` -> (texts, labels)."""
    return _labelled_rows
