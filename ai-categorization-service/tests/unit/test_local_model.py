"""The local-model categorizer with a stand-in classifier: mapping, label check, lazy loading."""
from dataclasses import dataclass

import pytest

from ai_categorization_service.categorizer import InvalidLabelError, ModelUnavailableError
from ai_categorization_service.local_model import LocalModelCategorizer


@dataclass(frozen=True)
class FakePrediction:
    label: str
    confidence: float
    probabilities: dict


class FakeClassifier:
    version = "tfidf-lr-test"

    def __init__(self, label="Facilities", confidence=0.77):
        self.label = label
        self.confidence = confidence
        self.texts = []

    def predict(self, text):
        self.texts.append(text)
        return FakePrediction(self.label, self.confidence, {self.label: self.confidence})


def test_prediction_becomes_a_decision_with_heuristic_priority():
    model = FakeClassifier()
    decision = LocalModelCategorizer(model).categorize("AC broken", "Urgent: 35 degrees", "low")
    assert decision.department == "Facilities"
    assert decision.confidence == 0.77
    assert decision.method == "local_model"
    assert decision.model_version == "tfidf-lr-test"
    assert decision.priority == "high"
    assert decision.urgency == pytest.approx(0.7, abs=0.1)
    assert "AC broken" in model.texts[0] and "35 degrees" in model.texts[0]


def test_label_outside_the_departments_is_rejected():
    with pytest.raises(InvalidLabelError):
        LocalModelCategorizer(FakeClassifier(label="Legal")).categorize("t", "d")


def test_loader_runs_once_and_only_on_first_use():
    loads = []

    def loader():
        loads.append(1)
        return FakeClassifier()

    categorizer = LocalModelCategorizer(loader=loader)
    assert loads == []
    categorizer.categorize("a", "b")
    categorizer.categorize("c", "d")
    assert loads == [1]


def test_failed_load_is_a_fallback_error_and_retried_later():
    attempts = []

    def loader():
        attempts.append(1)
        if len(attempts) == 1:
            raise FileNotFoundError("/models/missing.joblib")
        return FakeClassifier()

    categorizer = LocalModelCategorizer(loader=loader)
    with pytest.raises(ModelUnavailableError):
        categorizer.categorize("a", "b")
    assert categorizer.categorize("a", "b").method == "local_model"


def test_needs_exactly_one_of_model_or_loader():
    with pytest.raises(ValueError):
        LocalModelCategorizer()
    with pytest.raises(ValueError):
        LocalModelCategorizer(FakeClassifier(), loader=FakeClassifier)
