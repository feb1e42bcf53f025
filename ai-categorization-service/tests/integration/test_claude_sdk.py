"""The Claude path through the real anthropic SDK against a local fake Messages API.

No database or broker is needed, so these run with the unit tests; the network never
leaves 127.0.0.1.
"""
import time

import pytest

from ai_categorization_service.bootstrap import build_categorizer
from ai_categorization_service.claude import TOOL_NAME
from ai_categorization_service.config import Settings
from ai_categorization_service.departments import DEFAULT_DEPARTMENTS, Department
from support_shared.testing.fake_anthropic import FakeAnthropic, error, slow, tool_use

VALID = {"department": "Finance", "priority": "high", "confidence": 0.93, "urgency": 0.66}
TITLE = "Invoice 4711 rejected"
DESCRIPTION = "The vendor invoice for our laptops was rejected by accounting."


@pytest.fixture
def fake():
    server = FakeAnthropic(default=tool_use(VALID))
    with server:
        yield server


def chain(fake, **overrides):
    values = {"anthropic_api_key": "test-key", "anthropic_base_url": fake.url,
              "claude_model": "claude-test-model", "claude_timeout_s": 2.0, **overrides}
    return build_categorizer(Settings(**values))


def test_valid_tool_call_is_a_claude_decision_with_tokens(fake):
    fake.default = tool_use(VALID, input_tokens=512, output_tokens=37,
                            model="claude-sonnet-5-5-20250929")
    decision = chain(fake).categorize(TITLE, DESCRIPTION, "medium")
    assert decision.method == "claude"
    assert (decision.department, decision.priority) == ("Finance", "high")
    assert (decision.confidence, decision.urgency) == (0.93, 0.66)
    assert (decision.input_tokens, decision.output_tokens) == (512, 37)
    assert decision.model_version == "claude-sonnet-5-5-20250929"
    assert decision.latency_ms > 0
    assert fake.request_count == 1


def test_request_forces_the_tool_and_passes_the_ticket_as_delimited_data(fake):
    chain(fake, claude_model="claude-other-model").categorize(TITLE, DESCRIPTION, "low")
    [request] = fake.requests
    body = request.body
    assert request.path == "/v1/messages"
    assert body["model"] == "claude-other-model"
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    [tool] = body["tools"]
    names = [d.name for d in DEFAULT_DEPARTMENTS]
    assert tool["input_schema"]["properties"]["department"]["enum"] == names
    for name in names:
        assert name in request.system_text
    user = request.user_text
    start, end = user.index("<ticket>"), user.index("</ticket>")
    assert start < user.index(TITLE) < end
    assert start < user.index(DESCRIPTION) < end
    assert TITLE not in request.system_text      # ticket text only in the user turn
    assert request.headers["authorization"].endswith("test-key") or \
        request.headers.get("x-api-key") == "test-key"


def test_invalid_department_falls_back_to_the_local_model(fake):
    fake.default = tool_use({**VALID, "department": "Executive Office"})
    decision = chain(fake).categorize(TITLE, DESCRIPTION)
    assert decision.method == "local_model"
    assert decision.department in [d.name for d in DEFAULT_DEPARTMENTS]
    assert decision.input_tokens is None
    assert fake.request_count == 1                # no retry for a bad answer


def test_rate_limit_is_retried_by_the_sdk(fake):
    fake.enqueue(error(429, retry_after=0.05), tool_use(VALID))
    decision = chain(fake).categorize(TITLE, DESCRIPTION)
    assert decision.method == "claude"
    assert fake.request_count == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


def test_timeout_falls_back_within_a_bounded_time(fake):
    fake.default = slow(5.0, tool_use(VALID))
    categorizer = chain(fake, claude_timeout_s=0.3, claude_max_retries=1)
    started = time.monotonic()
    decision = categorizer.categorize(TITLE, DESCRIPTION)
    elapsed = time.monotonic() - started
    assert decision.method == "local_model"
    assert fake.request_count == 2                # first try + one retry, both timed out
    assert elapsed < 3.0


def test_repeated_server_errors_open_the_breaker_and_claude_is_skipped(fake):
    fake.default = error(500, retry_after=0.01)
    categorizer = chain(fake, claude_max_retries=1, claude_breaker_fail_max=5)
    for _ in range(5):
        assert categorizer.categorize(TITLE, DESCRIPTION).method == "local_model"
    assert fake.request_count == 10               # 5 calls x (1 try + 1 SDK retry)
    started = time.monotonic()
    for _ in range(3):
        assert categorizer.categorize(TITLE, DESCRIPTION).method == "local_model"
    assert fake.request_count == 10               # breaker open: the server is not asked
    assert time.monotonic() - started < 1.0


def test_breaker_lets_claude_back_in_after_the_reset_timeout(fake):
    fake.default = error(529, retry_after=0.01)
    categorizer = chain(fake, claude_max_retries=0, claude_breaker_fail_max=2,
                        claude_breaker_reset_s=0.3)
    for _ in range(3):
        categorizer.categorize(TITLE, DESCRIPTION)
    assert fake.request_count == 2
    fake.default = tool_use(VALID)
    time.sleep(0.35)
    assert categorizer.categorize(TITLE, DESCRIPTION).method == "claude"
    assert categorizer.categorize(TITLE, DESCRIPTION).method == "claude"
    assert fake.request_count == 4


def test_a_tenant_s_departments_are_the_prompt_and_the_enum(fake):
    legal = Department("Legal", "contracts and NDAs", ("nda",))
    mine = [legal, Department("Desk", "anything else", is_triage=True)]
    fake.default = tool_use({**VALID, "department": "Legal"})
    decision = chain(fake).categorize(TITLE, DESCRIPTION, departments=mine)
    assert (decision.method, decision.department) == ("claude", "Legal")
    [request] = fake.requests
    assert request.body["tools"][0]["input_schema"]["properties"]["department"]["enum"] == [
        "Legal", "Desk"]
    assert "- Legal: contracts and NDAs" in request.system_text
    fake.default = tool_use(VALID)                       # Finance: not one of the tenant's
    assert chain(fake).categorize(TITLE, DESCRIPTION, departments=mine).method != "claude"


def test_a_hung_provider_costs_at_most_the_computed_bound_then_tickets_fall_back_at_once(fake):
    """The bound Settings checks (fail_max x (attempts x timeout + backoff)) holds for the real
    SDK: scaled down here (0.4 s timeouts); the defaults give 25 s <= 30 s (test_claude_budget)."""
    fake.default = slow(30.0, tool_use(VALID))     # accepts the request, never answers in time
    categorizer = chain(fake, claude_timeout_s=0.4, claude_max_retries=1,
                        claude_breaker_fail_max=2, claude_breaker_reset_s=60)
    bound = Settings(anthropic_api_key="k", claude_timeout_s=0.4, claude_max_retries=1,
                     claude_breaker_fail_max=2).claude_hang_cost_s
    started = time.monotonic()
    stalled = [categorizer.categorize(TITLE, DESCRIPTION).method for _ in range(2)]
    hang_cost = time.monotonic() - started
    assert fake.request_count == 4                 # 2 calls x (1 try + 1 SDK retry)
    started = time.monotonic()
    after = [categorizer.categorize(TITLE, DESCRIPTION).method for _ in range(5)]
    assert time.monotonic() - started < 1.0 and fake.request_count == 4   # circuit open
    assert stalled == after[:2] == ["local_model"] * 2
    assert 4 * 0.4 <= hang_cost <= bound + 0.5, (hang_cost, bound)
