"""A hung Claude API may stall categorization at most AI_SERVICE_CLAUDE_HANG_BUDGET_S (30 s)."""
import pytest
from pydantic import ValidationError

from ai_categorization_service.config import Settings, claude_call_worst_s


def test_the_defaults_bound_a_hung_provider_to_30_seconds():
    settings = Settings()
    assert settings.claude_hang_budget_s == 30.0
    assert settings.claude_hang_cost_s == 2 * (2 * 6.0 + 0.5) == 25.0


def test_one_call_is_its_attempts_plus_the_sdk_backoff():
    assert claude_call_worst_s(8.0, 0) == 8.0
    assert claude_call_worst_s(8.0, 2) == 3 * 8.0 + 0.5 + 1.0
    assert claude_call_worst_s(1.0, 6) == 7 * 1.0 + 0.5 + 1 + 2 + 4 + 8 + 8   # backoff capped at 8 s


def test_the_old_defaults_are_refused_they_stalled_about_two_minutes():
    with pytest.raises(ValidationError, match="127.5s"):
        Settings(claude_timeout_s=8.0, claude_max_retries=2, claude_breaker_fail_max=5)


def test_a_larger_budget_must_be_asked_for():
    settings = Settings(claude_timeout_s=15.0, claude_hang_budget_s=62.0)
    assert settings.claude_hang_cost_s == 61.0
