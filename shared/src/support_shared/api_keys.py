"""The shape of the suite's API keys, ``tts_<8 of a-z0-9>_<20-100 of A-Za-z0-9_->``: issued by
ticket-service, checked by the gateway before any lookup."""
from __future__ import annotations

import re

KEY_PREFIX = "tts"
KEY_PATTERN = re.compile(r"^tts_([a-z0-9]{8})_[A-Za-z0-9_-]{20,100}$")


def looks_like_key(key: str) -> bool:
    """Whether ``key`` has the shape of a key the suite issues (not whether it is valid)."""
    return KEY_PATTERN.fullmatch(key) is not None
