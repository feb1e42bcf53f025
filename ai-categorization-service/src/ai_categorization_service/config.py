"""Settings of the AI categorization service (env prefix ``AI_SERVICE_``)."""
from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

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
    claude_timeout_s: float = Field(8.0, gt=0, le=120)
    claude_max_retries: int = Field(2, ge=0, le=10)
    claude_breaker_fail_max: int = Field(5, ge=1, le=1000)
    claude_breaker_reset_s: float = Field(30.0, gt=0, le=3600)

    # A model saved with TextClassifier.save; without it the shipped default model is trained.
    # Either is used only while no stored model version is active (ticketctl model activate).
    model_path: str | None = None
    # How often (seconds, at most) a process asks which stored model version is active, and
    # so how long after `ticketctl model activate` every consumer and web worker uses it.
    model_refresh_s: float = Field(5.0, gt=0, le=3600)


SERVICE_NAME = Settings.service_name
