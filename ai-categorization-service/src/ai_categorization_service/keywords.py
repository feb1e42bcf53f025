"""Weighted keyword rules: the last categorizer in the chain, which always decides."""
from __future__ import annotations

import functools
import math
import re
from typing import Mapping, Sequence

from support_shared.events import Priority

from .categorizer import Categorizer, Decision, NoDecision, clamp
from .departments import TRIAGE_DEPARTMENT, Department, triage_name
from .priority import assess_priority, phrase_pattern

MODEL_VERSION = "keywords-v1"
MIN_CONFIDENCE = 0.3
MAX_CONFIDENCE = 0.85
NO_MATCH_CONFIDENCE = 0.2
# A keyword a tenant gave its department: chosen by a person for that department, so nearly
# decisive (one match alone gives about 0.59, above the default minimum confidence of 0.5).
TENANT_KEYWORD_WEIGHT = 3

# Phrase -> weight (3: nearly decisive, 2: typical, 1: weak hint). Plurals match too.
DEFAULT_RULES: dict[str, dict[str, int]] = {
    "IT Support": {
        "password": 3, "vpn": 3, "wifi": 3, "wi-fi": 3, "outlook": 3, "malware": 3,
        "phishing": 3, "2fa": 3, "mfa": 3, "laptop": 2, "computer": 2, "login": 2,
        "log in": 2, "network": 2, "internet": 2, "email": 2, "e-mail": 2, "printer": 2,
        "software": 2, "install": 2, "keyboard": 2, "server": 2, "browser": 2, "bug": 2,
        "virus": 2, "license": 2, "database": 2, "slack": 2, "windows": 2, "crash": 2,
        "monitor": 1, "mouse": 1, "screen": 1, "account": 1, "error": 1, "app": 1,
        "application": 1, "update": 1, "teams": 1, "zoom": 1, "system": 1,
    },
    "HR": {
        "vacation": 3, "pto": 3, "benefits": 3, "recruiting": 3, "onboarding": 3,
        "offboarding": 3, "new hire": 3, "resignation": 3, "harassment": 3,
        "discrimination": 3, "performance review": 3, "maternity": 3, "paternity": 3,
        "parental leave": 3, "hr": 3, "human resources": 3, "holiday": 2, "sick": 2,
        "insurance": 2, "pension": 2, "hiring": 2, "interview": 2, "contract": 2,
        "training": 2, "promotion": 2, "leave": 1, "complaint": 1, "manager": 1,
        "employee": 1,
    },
    "Facilities": {
        "heating": 3, "heater": 3, "air conditioning": 3, "hvac": 3, "plumbing": 3,
        "toilet": 3, "light bulb": 3, "furniture": 3, "parking": 3, "elevator": 3,
        "fire alarm": 3, "pest": 3, "desk": 2, "chair": 2, "temperature": 2, "lights": 2,
        "leak": 2, "cleaning": 2, "door": 2, "keys": 2, "badge": 2, "building": 2,
        "meeting room": 2, "kitchen": 2, "repair": 2, "maintenance": 2, "office": 1,
        "cold": 1, "hot": 1, "water": 1, "lock": 1, "room": 1, "window": 1,
    },
    "Finance": {
        "payroll": 3, "salary": 3, "paycheck": 3, "payslip": 3, "invoice": 3, "expense": 3,
        "reimbursement": 3, "reimburse": 3, "budget": 3, "purchase order": 3,
        "accounting": 3, "payment": 2, "refund": 2, "tax": 2, "receipt": 2, "vendor": 2,
        "billing": 2, "credit card": 2, "bank": 2, "bonus": 2, "pay": 1, "bill": 1,
        "overtime": 1, "cost": 1,
    },
}


CompiledRules = dict[str, list[tuple[re.Pattern[str], int]]]


def compile_rules(rules: Mapping[str, Mapping[str, int]]) -> CompiledRules:
    return {department: [(phrase_pattern((phrase,)), weight) for phrase, weight in words.items()]
            for department, words in rules.items()}


def tenant_rules(departments: Sequence[Department]) -> dict[str, dict[str, int]]:
    """The rules of a tenant's active departments: the shipped rules of a shipped department's
    name, plus each department's own keywords (which win on the same phrase)."""
    rules: dict[str, dict[str, int]] = {}
    for department in departments:
        words = dict(DEFAULT_RULES.get(department.name, {}))
        words.update({k.lower(): TENANT_KEYWORD_WEIGHT for k in department.keywords})
        rules[department.name] = words
    return rules


@functools.lru_cache(maxsize=256)
def _compiled_for(departments: tuple[Department, ...]) -> CompiledRules:
    """Compiled once per distinct set of departments (a tenant's, until it changes)."""
    return compile_rules(tenant_rules(departments))


@functools.lru_cache(maxsize=256)
def _own_rules(departments: tuple[Department, ...]) -> CompiledRules:
    return compile_rules({d.name: {k.lower(): TENANT_KEYWORD_WEIGHT for k in d.keywords}
                          for d in departments})


class KeywordCategorizer(Categorizer):
    """Scores each department by the weights of the distinct phrases found in the ticket.

    Confidence grows with the best score and with its margin over the runner-up, from
    ``MIN_CONFIDENCE`` to at most ``MAX_CONFIDENCE``. A tie goes to the triage department
    with ``MIN_CONFIDENCE``, no match at all with ``NO_MATCH_CONFIDENCE``.
    """

    name = "keywords"

    def __init__(self, rules: Mapping[str, Mapping[str, int]] = DEFAULT_RULES,
                 fallback: str = TRIAGE_DEPARTMENT) -> None:
        self.fallback = fallback
        self._rules = compile_rules(rules)

    def scores(self, text: str, rules: CompiledRules | None = None) -> dict[str, int]:
        return {
            department: sum(weight for pattern, weight in patterns if pattern.search(text))
            for department, patterns in (rules or self._rules).items()
        }

    def categorize(
        self, title: str, description: str, requested_priority: Priority | None = None, *,
        departments: Sequence[Department] | None = None,
    ) -> Decision:
        """Among ``departments`` (their rules: see ``tenant_rules``) when given, else among
        the rules this categorizer was built with."""
        text = f"{title}\n{description}"
        if departments:
            rules, fallback = _compiled_for(tuple(departments)), triage_name(departments)
        else:
            rules, fallback = self._rules, self.fallback
        return self._decide(text, rules, fallback, requested_priority)

    def _decide(self, text: str, rules: CompiledRules, fallback: str,
                requested_priority: Priority | None) -> Decision:
        department, confidence = self._department(text, rules, fallback)
        assessment = assess_priority(text, requested_priority)
        return Decision(
            department=department,
            priority=assessment.priority,
            confidence=confidence,
            method="keywords",
            model_version=MODEL_VERSION,
            urgency=assessment.urgency,
        )

    def _department(self, text: str, rules: CompiledRules,
                    fallback: str) -> tuple[str, float]:
        ranked = sorted(self.scores(text, rules).items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] == 0:
            return fallback, NO_MATCH_CONFIDENCE
        (best, best_score), runner_up = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0)
        if runner_up == best_score:                     # a tie says nothing: let a person triage
            return fallback, MIN_CONFIDENCE
        strength = 1 - math.exp(-best_score / 4)       # 3 -> 0.53, 6 -> 0.78, 10 -> 0.92
        margin = (best_score - runner_up) / best_score  # 1 when no other department matched
        span = MAX_CONFIDENCE - MIN_CONFIDENCE
        confidence = MIN_CONFIDENCE + span * strength * (0.4 + 0.6 * margin)
        return best, round(clamp(confidence, MIN_CONFIDENCE, MAX_CONFIDENCE), 3)


class TenantKeywordCategorizer(KeywordCategorizer):
    """The keywords a tenant gave its departments, before any model: a person's explicit rule
    for a department the models may not know. Decides only when those keywords point to one
    department; otherwise (no tenant keywords, no match, a tie) the chain falls through."""

    name = "tenant_keywords"

    def __init__(self) -> None:
        super().__init__(rules={})

    def categorize(
        self, title: str, description: str, requested_priority: Priority | None = None, *,
        departments: Sequence[Department] | None = None,
    ) -> Decision:
        own = [d for d in departments or () if d.keywords]
        if not own:
            raise NoDecision("no department of the tenant has keywords")
        text = f"{title}\n{description}"
        rules = _own_rules(tuple(own))
        ranked = sorted(self.scores(text, rules).values(), reverse=True)
        if not ranked or ranked[0] == 0 or (len(ranked) > 1 and ranked[0] == ranked[1]):
            raise NoDecision("no single department's keywords match")
        return self._decide(text, rules, triage_name(departments or ()), requested_priority)
