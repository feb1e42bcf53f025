"""The priority/urgency heuristic shared by the local-model and keyword categorizers."""
from __future__ import annotations

import re
from dataclasses import dataclass

from support_shared.events import PRIORITIES, Priority

CRITICAL_PHRASES = (
    "security breach", "data breach", "breach", "ransomware", "hacked", "outage",
    "emergency", "fire", "gas leak", "flood", "flooding", "everyone is down", "all users",
    "entire office", "whole office", "production down", "system down",
)
HIGH_PHRASES = (
    "urgent", "urgently", "asap", "as soon as possible", "immediately", "down",
    "cannot work", "can't work", "cant work", "unable to work", "not working",
    "stopped working", "locked out", "blocked", "broken", "crash", "crashed", "crashing",
    "deadline", "critical",
)
LOW_PHRASES = (
    "not urgent", "no rush", "no hurry", "whenever", "when you have time",
    "when you get a chance", "low priority", "nice to have", "feature request",
    "suggestion", "just wondering", "quick question",
)

BASE_URGENCY: dict[str, float] = {"low": 0.15, "medium": 0.4, "high": 0.7, "critical": 0.9}


def phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of any phrase (plural 's' allowed)."""
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?:s|es)?(?!\w)", re.IGNORECASE)


_CRITICAL = phrase_pattern(CRITICAL_PHRASES)
_HIGH = phrase_pattern(HIGH_PHRASES)
_LOW = phrase_pattern(LOW_PHRASES)


@dataclass(frozen=True)
class PriorityAssessment:
    priority: Priority
    urgency: float
    signals: tuple[str, ...]


def rank(priority: str) -> int:
    return PRIORITIES.index(priority)


def assess_priority(text: str, requested: Priority | None = None) -> PriorityAssessment:
    """Priority from urgency words, combined with what the requester asked for.

    Critical/high words raise the priority (never below the requested one). Calming words
    ("no rush") lower the default ``medium`` to ``low`` but never overrule an explicit
    high/critical request. Without signals the requested priority (or ``medium``) stands.
    """
    low_hits = [m.group(0).lower() for m in _LOW.finditer(text)]
    # Remove calming phrases first so "not urgent" does not count as "urgent".
    rest = _LOW.sub(" ", text)
    critical_hits = [m.group(0).lower() for m in _CRITICAL.finditer(rest)]
    high_hits = [m.group(0).lower() for m in _HIGH.finditer(rest)]
    base: Priority = requested or "medium"
    if critical_hits:
        priority: Priority = "critical"
    elif high_hits:
        priority = base if rank(base) > rank("high") else "high"
    elif low_hits and base in ("low", "medium"):
        priority = "low"
    else:
        priority = base
    signals = tuple(dict.fromkeys(critical_hits + high_hits + low_hits))
    hits = len(critical_hits) + len(high_hits)
    urgency = BASE_URGENCY[priority] + min(0.09, 0.03 * max(0, hits - 1))
    return PriorityAssessment(priority, round(min(1.0, urgency), 3), signals)
