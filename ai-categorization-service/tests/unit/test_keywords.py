"""Keyword rules: department per weighted phrase, confidence bounds, triage fallback."""
import pytest

from ai_categorization_service.keywords import (
    MAX_CONFIDENCE,
    MIN_CONFIDENCE,
    NO_MATCH_CONFIDENCE,
    KeywordCategorizer,
)


@pytest.fixture
def rules():
    return KeywordCategorizer()


@pytest.mark.parametrize("title, description, department", [
    ("VPN keeps dropping", "My laptop loses the VPN connection every hour.", "IT Support"),
    ("Password reset", "I am locked out of Outlook after the password change.", "IT Support"),
    ("Vacation request", "How many PTO days do I have left this year?", "HR"),
    ("Harassment complaint", "I want to report harassment by a colleague.", "HR"),
    ("Heating broken", "The heating on floor 3 does not work, it is very cold.", "Facilities"),
    ("Parking badge", "My parking badge does not open the garage door.", "Facilities"),
    ("Expense reimbursement", "My travel expenses were not reimbursed with payroll.", "Finance"),
    ("Invoice from vendor", "A vendor invoice is waiting for a purchase order.", "Finance"),
])
def test_departments(rules, title, description, department):
    decision = rules.categorize(title, description)
    assert decision.department == department
    assert MIN_CONFIDENCE <= decision.confidence <= MAX_CONFIDENCE
    assert decision.method == "keywords"
    assert decision.model_version == "keywords-v1"


def test_no_match_goes_to_triage_with_low_confidence(rules):
    decision = rules.categorize("Hello", "Just saying hi to everyone.")
    assert (decision.department, decision.confidence) == ("General", NO_MATCH_CONFIDENCE)


def test_tie_goes_to_triage(rules):
    decision = rules.categorize("Salary", "Question about my salary and my vacation")
    assert decision.department == "General"
    assert decision.confidence == MIN_CONFIDENCE


def test_more_evidence_means_more_confidence_but_never_above_the_cap(rules):
    weak = rules.categorize("Screen", "My screen flickers")
    strong = rules.categorize("VPN", "vpn password outlook wifi malware phishing mfa laptop")
    assert weak.department == strong.department == "IT Support"
    assert weak.confidence < strong.confidence <= MAX_CONFIDENCE


def test_competing_department_lowers_confidence(rules):
    clean = rules.categorize("Payroll", "My payroll and salary are wrong")
    mixed = rules.categorize("Payroll", "My payroll and salary are wrong, the laptop shows it")
    assert clean.department == mixed.department == "Finance"
    assert mixed.confidence < clean.confidence


def test_priority_from_heuristic_and_request_kept(rules):
    assert rules.categorize("Outlook down", "Urgent, cannot work").priority == "high"
    assert rules.categorize("New chair", "Please order one", "critical").priority == "critical"
    assert rules.categorize("New chair", "Please order one").priority == "medium"
    assert rules.categorize("Server outage", "all users affected").urgency >= 0.9
