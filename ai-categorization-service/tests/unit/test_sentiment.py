"""Rule-based sentiment and requires_action, the fallback flag, and both on ticket.categorized."""
import pytest

from ai_categorization_service.categorizer import ChainCategorizer, Decision
from ai_categorization_service.categorizer import InvalidLabelError
from ai_categorization_service.handlers import categorized_event
from ai_categorization_service.sentiment import read_text
from support_shared.events import EventType, TicketCategorized, TicketCreated, new_event


@pytest.mark.parametrize("text, requested, sentiment, action", [
    ("VPN down, this is unacceptable and I am frustrated", None, "negative", True),
    ("Thanks a lot, the printer works now. Great job!", None, "positive", False),
    ("Please reset my password", None, "neutral", True),
    ("Just FYI: the office will be closed on Monday", None, "neutral", False),
    ("Server room temperature", "critical", "negative", True),      # the request is a signal
    ("Thank you! Can you also install Excel?", None, "positive", True),
    ("Not angry, just annoyed: you can close this", "low", "negative", False),
])
def test_read_text(text, requested, sentiment, action):
    reading = read_text(text, requested)
    assert (reading.sentiment, reading.requires_action) == (sentiment, action)


def test_signals_name_the_words_that_decided():
    assert set(read_text("Awful service, thanks for nothing").signals) == {"awful", "thanks"}


class _Fixed:
    def __init__(self, name, outcome):
        self.name = name
        self.outcome = outcome
        self.failures = (InvalidLabelError,)

    def categorize(self, *args, **kwargs):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _decision(method):
    return Decision(department="HR", priority="medium", confidence=0.7, method=method)


@pytest.mark.parametrize("first, fallback", [
    (_Fixed("claude", InvalidLabelError("x")), True),           # Claude wanted, fell back
    (_Fixed("claude", _decision("claude")), False),              # Claude decided
    (_Fixed("tenant_keywords", InvalidLabelError("x")), False),  # no Claude configured
])
def test_the_chain_marks_a_fallback_only_when_claude_was_wanted(first, fallback):
    chain = ChainCategorizer([first, _Fixed("keywords", _decision("keywords"))])
    assert chain.categorize("t", "d").fallback is fallback


def test_the_categorized_event_carries_sentiment_requires_action_and_fallback():
    created = TicketCreated(title="Laptop broken again", description="Still broken, awful",
                            user_name="A", user_email="a@example.com", priority="high",
                            created_at="2026-01-01T00:00:00Z")
    envelope = new_event(EventType.TICKET_CREATED, created, tenant_id="t", ticket_id=3,
                         ticket_version=1)
    decision = Decision(department="IT Support", priority="high", confidence=0.6,
                        method="local_model", fallback=True)
    event = categorized_event(envelope, created, decision)
    data = event.payload()
    assert isinstance(data, TicketCategorized)
    assert (data.sentiment, data.requires_action, data.fallback) == ("negative", True, True)


def test_an_old_categorized_event_still_validates():
    old = {"department": "HR", "priority": "low", "confidence": 0.5, "method": "keywords"}
    data = TicketCategorized.model_validate(old)
    assert data.sentiment is None and data.requires_action is None and data.fallback is False
