"""The AI provider answers 429, 500, 529, hangs, and invents labels: every ticket is still
categorized (by the fallback, which is recorded), and no delivery waits long."""
from __future__ import annotations

import pytest

from ai_categorization_service.config import Settings, claude_call_worst_s
from support_shared.testing.fake_anthropic import FakeAnthropic, error, slow, text, tool_use
from support_shared.testing.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

TIMEOUT_S, RETRIES, FAIL_MAX = 2.0, 1, 3
GOOD = tool_use({"department": "IT Support", "priority": "high", "confidence": 0.93, "urgency": 0.7})
HUNG = slow(TIMEOUT_S + 3)
# One row per ticket, in the order the single AI consumer takes them: the replies its calls get
# (the SDK retries 429/5xx/timeouts once), the method expected, and whether the breaker counts it.
SCRIPT = [
    ([error(429), GOOD], "claude"),                                   # rate limited, then fine
    ([error(500), error(500)], "fallback"),                           # breaker failure 1
    ([HUNG, HUNG], "fallback"),                                       # failure 2 (timeouts)
    ([tool_use({"department": "Legal", "priority": "high", "confidence": 0.9,
                "urgency": 0.5})], "fallback"),                       # invented label; API ok
    ([text("I think IT Support.")], "fallback"),                      # no tool call; API ok
    ([error(529), error(529)], "fallback"),                           # failure 1 again
    ([HUNG, HUNG], "fallback"),                                       # failure 2
    ([HUNG, HUNG], "fallback"),                                       # failure 3: circuit opens
    ([], "fallback"), ([], "fallback"), ([], "fallback"),             # skipped: circuit open
]


def test_provider_failures_fall_back_quickly(suite, figures):
    fake = FakeAnthropic(default=GOOD)
    env = {**suite.env, "ANTHROPIC_API_KEY": "test", "AI_SERVICE_CLAUDE_TIMEOUT_S": str(TIMEOUT_S),
           "AI_SERVICE_CLAUDE_MAX_RETRIES": str(RETRIES),
           "AI_SERVICE_CLAUDE_BREAKER_FAIL_MAX": str(FAIL_MAX)}
    with fake as base_url:
        for replies, _method in SCRIPT:
            fake.enqueue(*replies)
        env["AI_SERVICE_ANTHROPIC_BASE_URL"] = base_url
        since = suite.baseline()
        try:
            suite.suite.restart("ai-consumer", env=env)
            accepted = suite.create_tickets(len(SCRIPT))
            wait_until(lambda: all(suite.stored(since).values()), timeout=90, interval=0.5,
                       message="every ticket routed")
            calls = fake.request_count
        finally:
            suite.suite.restart("ai-consumer")   # back to the suite's own settings
    rows = suite.sql("ai", "SELECT ticket_id, method, latency_ms FROM categorizations "
                     "WHERE ticket_id = ANY(:ids) ORDER BY ticket_id", ids=accepted)
    methods = [r.method for r in rows]
    slowest_s = max(r.latency_ms for r in rows) / 1000
    audit = suite.audit(accepted, since, timeout=30)
    figures("ai-provider", sent=len(accepted), accepted=len(accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, provider_calls=calls,
            fallbacks=sum(m != "claude" for m in methods), slowest_categorization_s=round(slowest_s, 2))

    audit.assert_exactly_once()
    assert [m if m == "claude" else "fallback" for m in methods] == [m for _r, m in SCRIPT]
    assert set(methods) <= {"claude", "local_model", "keywords"}
    assert calls == sum(len(r) for r, _m in SCRIPT), "the open circuit stops calling the provider"
    # The worst delivery waits for every attempt to time out, plus the SDK's retry backoff.
    assert slowest_s < claude_call_worst_s(TIMEOUT_S, RETRIES) + 1.5
    # Until the circuit opened, the hung calls cost at most the bound Settings enforces.
    hung = [r.latency_ms / 1000 for r, (replies, _m) in zip(rows, SCRIPT) if HUNG in replies]
    assert sum(hung[-FAIL_MAX:]) <= FAIL_MAX * claude_call_worst_s(TIMEOUT_S, RETRIES) + 1.5


def test_a_hung_provider_stalls_categorization_at_most_30_s_with_the_shipped_defaults():
    """Deterministic: the breaker opens after CLAUDE_BREAKER_FAIL_MAX calls, each costing at most
    its attempts' timeouts plus the SDK's backoff (measured against the real SDK in
    ai-categorization-service/tests/integration/test_claude_sdk.py); Settings refuses more."""
    defaults = Settings(anthropic_api_key="test")
    assert defaults.claude_hang_cost_s <= 30.0
    worst = defaults.claude_breaker_fail_max * claude_call_worst_s(
        defaults.claude_timeout_s, defaults.claude_max_retries)
    assert worst == defaults.claude_hang_cost_s == 25.0
