"""Rule-based sentiment and requires-action of a ticket's text (next to the urgency rules).

Like ``priority.assess_priority``: words decide, the requested priority is one more signal, and
the same text always gives the same answer, whichever categorizer decided the department.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from support_shared.events import Priority, Sentiment

from .priority import phrase_pattern

NEGATIVE_PHRASES = (
    "angry", "annoyed", "annoying", "frustrated", "frustrating", "furious", "upset",
    "unacceptable", "terrible", "horrible", "awful", "worst", "ridiculous", "disappointed",
    "disappointing", "useless", "fed up", "sick of", "again and again", "still not",
    "still broken", "complaint", "cancel my", "refund", "hate",
)
POSITIVE_PHRASES = (
    "thank you", "thanks", "thank", "appreciate", "appreciated", "great", "excellent",
    "awesome", "love", "happy", "glad", "pleased", "well done", "good job", "kudos",
    "works now", "working now", "resolved", "fixed",
)
# Asking for something to be done (or reporting something that does not work) needs an
# action; a thank-you, an FYI or a closing note does not.
ACTION_PHRASES = (
    "please", "can you", "could you", "would you", "need", "needs", "help", "request",
    "requesting", "fix", "reset", "install", "set up", "setup", "configure", "replace",
    "repair", "grant", "access", "unlock", "urgent", "asap", "not working", "broken",
    "error", "fails", "failed", "failing", "cannot", "can't", "unable", "down", "issue",
    "problem", "how do i", "how can i", "?",
)
NO_ACTION_PHRASES = (
    "no action needed", "no action required", "just fyi", "fyi", "for your information",
    "for information only", "you can close", "please close", "can be closed", "all good now",
    "never mind", "nevermind", "works now", "working now", "resolved itself",
)

_NEGATIVE = phrase_pattern(NEGATIVE_PHRASES)
_POSITIVE = phrase_pattern(POSITIVE_PHRASES)
_NO_ACTION = phrase_pattern(NO_ACTION_PHRASES)
_ACTION = re.compile(r"\?|" + phrase_pattern(tuple(p for p in ACTION_PHRASES if p != "?"))
                     .pattern, re.IGNORECASE)


@dataclass(frozen=True)
class TextReading:
    sentiment: Sentiment
    requires_action: bool
    signals: tuple[str, ...]


def _hits(pattern: re.Pattern[str], text: str) -> list[str]:
    return [m.group(0).lower() for m in pattern.finditer(text)]


def read_text(text: str, requested: Priority | None = None) -> TextReading:
    """Sentiment from negative/positive words, with the requested priority as a signal (a
    critical request leans negative); requires_action unless the text only says thanks/FYI."""
    no_action = _hits(_NO_ACTION, text)
    rest = _NO_ACTION.sub(" ", text)
    negative = _hits(_NEGATIVE, rest)
    positive = _hits(_POSITIVE, rest)
    score = len(positive) - len(negative)
    if requested == "critical":
        score -= 1
    sentiment: Sentiment = "neutral"
    if score < 0:
        sentiment = "negative"
    elif score > 0:
        sentiment = "positive"
    action = _hits(_ACTION, rest)
    requires_action = bool(action) or not (no_action or positive)
    signals = tuple(dict.fromkeys(negative + positive + no_action))
    return TextReading(sentiment, requires_action, signals)
