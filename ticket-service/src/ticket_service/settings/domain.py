"""A tenant's settings and their defaults (plain values, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass

AI_PRIORITY_MODES: tuple[str, ...] = ("suggest", "apply")


@dataclass(frozen=True)
class TenantSettings:
    """``ai_priority``: ``suggest`` shows the AI's priority beside the requested one (default);
    ``apply`` makes it the ticket's priority when the AI's decision is applied."""

    ai_priority: str = "suggest"

    def __post_init__(self) -> None:
        if self.ai_priority not in AI_PRIORITY_MODES:
            raise ValueError(f"ai_priority must be one of {AI_PRIORITY_MODES}")
