"""The priority/urgency heuristic: escalation words, calming words, the requester's choice."""
import pytest

from ai_categorization_service.priority import assess_priority


@pytest.mark.parametrize("text, expected", [
    ("URGENT: invoice portal", "high"),
    ("The build server is down", "high"),
    ("I cannot work without my laptop", "high"),
    ("I can't work, screen stays black", "high"),
    ("Email outage for the whole team", "critical"),
    ("Possible security breach on my account", "critical"),
    ("Gas leak in the kitchen", "critical"),
    ("Please order a new mouse", "medium"),
    ("No rush, but the desk lamp flickers", "low"),
    ("This is not urgent: update my address", "low"),
])
def test_words_set_the_priority(text, expected):
    assert assess_priority(text).priority == expected


def test_whole_words_only():
    assert assess_priority("How do I download the handbook?").priority == "medium"
    assert assess_priority("Firewall rule request").priority == "medium"


def test_requested_priority_stands_without_signals():
    assert assess_priority("Order a new chair", "critical").priority == "critical"
    assert assess_priority("Order a new chair", "low").priority == "low"


def test_escalation_never_lowers_the_request():
    assert assess_priority("urgent: printer jam", "critical").priority == "critical"
    assert assess_priority("urgent: printer jam", "low").priority == "high"


def test_calming_words_do_not_overrule_an_explicit_high_request():
    assert assess_priority("no rush", "high").priority == "high"
    assert assess_priority("no rush", "medium").priority == "low"


def test_urgency_follows_priority_and_stays_in_range():
    scores = [assess_priority(t).urgency for t in (
        "no rush at all", "new chair please", "urgent, laptop broken", "outage everywhere")]
    assert scores == sorted(scores)
    assert len(set(scores)) == 4
    many = assess_priority("URGENT urgent asap immediately outage breach down down down")
    assert 0.0 <= many.urgency <= 1.0
    assert many.signals[0] in ("outage", "breach")
