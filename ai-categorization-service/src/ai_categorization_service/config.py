"""Settings of the AI categorization service (env prefix ``AI_SERVICE_``)."""
from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, model_validator

from support_shared.config import service_settings


class Settings(service_settings("ai-categorization-service")):
    """The manifest's settings of ai-categorization-service, plus its own."""

    # Claude is used only when a key is configured; the standard SDK variable is honoured.
    anthropic_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "AI_SERVICE_ANTHROPIC_API_KEY"),
    )
    anthropic_base_url: str | None = None
    claude_model: str = "claude-sonnet-5-5"
    claude_max_tokens: int = Field(256, ge=64, le=4096)
    # A hung provider costs each ticket one call (every attempt times out) until the breaker
    # opens after ``claude_breaker_fail_max`` such calls; from then on tickets fall back at once.
    # The three together may cost at most ``claude_hang_budget_s`` (checked at start-up):
    # 2 x (2 attempts x 6 s + 0.5 s backoff) = 25 s with the defaults (measured 25.7 s: the
    # margin is for request overhead on a loaded machine).
    claude_timeout_s: float = Field(6.0, gt=0, le=120)
    claude_max_retries: int = Field(1, ge=0, le=10)
    claude_breaker_fail_max: int = Field(2, ge=1, le=1000)
    claude_breaker_reset_s: float = Field(30.0, gt=0, le=3600)
    claude_hang_budget_s: float = Field(30.0, gt=0, le=3600)

    # A model saved with TextClassifier.save (an .npz, served with NumPy); without it the
    # shipped default model (default_model.npz).
    # Either is used only while no stored model version is active (ticketctl model activate).
    model_path: str | None = None
    # How often (seconds, at most) a process asks which stored model version is active, and
    # so how long after `ticketctl model activate` every consumer and web worker uses it.
    model_refresh_s: float = Field(5.0, gt=0, le=3600)

    @property
    def claude_hang_cost_s(self) -> float:
        """The longest a hung provider stalls categorization before the breaker opens."""
        return self.claude_breaker_fail_max * claude_call_worst_s(self.claude_timeout_s,
                                                                  self.claude_max_retries)

    @model_validator(mode="after")
    def _hang_within_budget(self) -> "Settings":
        if self.claude_hang_cost_s > self.claude_hang_budget_s:
            raise ValueError(
                f"a hung Claude API would stall categorization {self.claude_hang_cost_s:.1f}s "
                f"(AI_SERVICE_CLAUDE_BREAKER_FAIL_MAX x (MAX_RETRIES + 1) x TIMEOUT_S + backoff) "
                f"> AI_SERVICE_CLAUDE_HANG_BUDGET_S={self.claude_hang_budget_s:g}: lower one of them")
        return self


def claude_call_worst_s(timeout_s: float, max_retries: int) -> float:
    """One SDK call whose every attempt times out: the attempts plus the SDK's backoff between
    them (0.5 s doubling, at most 8 s, jitter only shortens it; a hung server sends no
    Retry-After)."""
    backoff = sum(min(0.5 * 2 ** i, 8.0) for i in range(max_retries))
    return (max_retries + 1) * timeout_s + backoff


SERVICE_NAME = Settings.service_name
