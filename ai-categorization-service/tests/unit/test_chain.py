"""The fall-through chain: order, which errors fall through, what propagates, the wiring."""
import anthropic
import httpx2
import pytest

from support_shared.breaker import CircuitOpenError

from ai_categorization_service.bootstrap import build_categorizer
from ai_categorization_service.categorizer import (
    Categorizer,
    ChainCategorizer,
    Decision,
    InvalidLabelError,
    ModelUnavailableError,
    NoDecision,
)
from ai_categorization_service.config import Settings
from ai_categorization_service.keywords import KeywordCategorizer


class Scripted(Categorizer):
    def __init__(self, name, outcome, log):
        self.name = name
        self.outcome = outcome
        self.log = log

    def categorize(self, title, description, requested_priority=None, *, departments=None):
        self.log.append(self.name)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def decision(method="local_model", department="HR"):
    return Decision(department=department, priority="medium", confidence=0.7, method=method)


class ClaudeLike(Scripted):
    failures = (InvalidLabelError, CircuitOpenError, anthropic.APIError)


def _api_timeout():
    return anthropic.APITimeoutError(request=httpx2.Request("POST", "http://claude.test/v1"))


@pytest.mark.parametrize("claude_error", [
    InvalidLabelError("department 'Legal' not allowed"),
    CircuitOpenError("claude", 30.0),
    _api_timeout(),
])
def test_falls_through_in_order_on_own_failures(claude_error, caplog):
    log = []
    chain = ChainCategorizer([
        ClaudeLike("claude", claude_error, log),
        Scripted("local_model", ModelUnavailableError("no model file"), log),
        Scripted("keywords", decision("keywords", "General"), log),
    ])
    result = chain.categorize("t", "d", "high")
    assert log == ["claude", "local_model", "keywords"]
    assert result.method == "keywords"
    assert result.latency_ms is not None and result.latency_ms >= 0
    assert "claude failed" in caplog.text and type(claude_error).__name__ in caplog.text


def test_an_abstention_falls_through_without_a_warning(caplog):
    """A tenant without keywords of its own is the common case, not a failure: one warning
    per ticket would bury the real ones (and cost the consumer a log line per ticket)."""
    log = []
    chain = ChainCategorizer([
        Scripted("tenant_keywords", NoDecision("no department of the tenant has keywords"), log),
        Scripted("local_model", decision(), log),
    ])
    with caplog.at_level("DEBUG", logger="ai_categorization_service.categorizer"):
        result = chain.categorize("t", "d")
    assert log == ["tenant_keywords", "local_model"] and result.method == "local_model"
    assert [r.levelname for r in caplog.records] == ["DEBUG"]
    assert "tenant_keywords abstains" in caplog.text


def test_first_success_wins():
    log = []
    chain = ChainCategorizer([
        ClaudeLike("claude", decision("claude", "Finance"), log),
        Scripted("keywords", decision("keywords"), log),
    ])
    assert chain.categorize("t", "d").department == "Finance"
    assert log == ["claude"]


def test_a_bug_is_not_masked_as_a_fallback():
    log = []
    chain = ChainCategorizer([
        Scripted("local_model", KeyError("bug"), log),
        Scripted("keywords", decision("keywords"), log),
    ])
    with pytest.raises(KeyError):
        chain.categorize("t", "d")
    assert log == ["local_model"]


def test_anthropic_errors_fall_through_only_for_claude():
    log = []
    chain = ChainCategorizer([
        Scripted("local_model", _api_timeout(), log),      # not one of its own failures
        Scripted("keywords", decision("keywords"), log),
    ])
    with pytest.raises(anthropic.APITimeoutError):
        chain.categorize("t", "d")


def test_real_keywords_end_the_chain():
    chain = ChainCategorizer([Scripted("local_model", ModelUnavailableError("x"), []),
                              KeywordCategorizer()])
    assert chain.categorize("VPN broken", "vpn password").department == "IT Support"


def test_claude_only_with_an_api_key():
    without = build_categorizer(Settings(anthropic_api_key=None))
    assert without.methods == ["tenant_keywords", "local_model", "keywords"]
    with_key = build_categorizer(Settings(anthropic_api_key="test-key"))
    assert with_key.methods == ["claude", "tenant_keywords", "local_model", "keywords"]
    empty = build_categorizer(Settings(anthropic_api_key=""))
    assert empty.methods == ["tenant_keywords", "local_model", "keywords"]


def test_api_key_from_the_standard_variable(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("AI_SERVICE_CLAUDE_MODEL", "claude-test-model")
    settings = Settings()
    assert settings.anthropic_api_key.get_secret_value() == "sk-test"
    assert settings.claude_model == "claude-test-model"
    assert "sk-test" not in repr(settings)


def test_warm_up_loads_the_local_model_once_and_survives_a_broken_one():
    from ai_categorization_service.categorizer import ChainCategorizer
    from ai_categorization_service.keywords import KeywordCategorizer
    from ai_categorization_service.local_model import LocalModelCategorizer

    calls = []

    class _Model:
        version = "v-test"

        def predict(self, text):
            raise AssertionError("warm-up must not categorize")

    def loader():
        calls.append(1)
        return _Model()

    local = LocalModelCategorizer(loader=loader)
    ChainCategorizer([local, KeywordCategorizer()]).warm_up()
    assert calls == [1] and local.model.version == "v-test"
    assert calls == [1]

    def broken():
        raise ImportError("no scikit-learn")

    ChainCategorizer([LocalModelCategorizer(loader=broken), KeywordCategorizer()]).warm_up()
