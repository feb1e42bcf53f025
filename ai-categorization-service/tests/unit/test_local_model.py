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


class BulkClassifier(FakeClassifier):
    """Answers by the text's first word, and counts single and bulk calls."""

    def __init__(self, version="v1"):
        super().__init__()
        self.version = version
        self.bulk_calls = []

    def predict(self, text):
        self.texts.append(text)
        return self._answer(text)

    def predict_many(self, texts):
        self.bulk_calls.append(list(texts))
        return [self._answer(t) for t in texts]

    def _answer(self, text):
        label = {"wifi": "IT Support", "desk": "Facilities"}.get(text.split()[0], "General")
        return FakePrediction(label, 0.9, {label: 0.9})


def test_prepared_tickets_are_predicted_in_one_bulk_call():
    model = BulkClassifier()
    categorizer = LocalModelCategorizer(model)
    categorizer.prepare([("wifi down", "floor 2"), ("desk broken", "leg"), ("wifi slow", "x")])
    decisions = [categorizer.categorize("wifi down", "floor 2"),
                 categorizer.categorize("desk broken", "leg"),
                 categorizer.categorize("wifi slow", "x")]
    assert [d.department for d in decisions] == ["IT Support", "Facilities", "IT Support"]
    assert len(model.bulk_calls) == 1 and len(model.bulk_calls[0]) == 3
    assert model.texts == []                                  # no single predictions
    categorizer.categorize("desk broken", "leg")              # each prepared one is used once
    assert len(model.texts) == 1


def test_a_model_switch_after_prepare_predicts_again_with_the_new_model():
    class Switching:
        def __init__(self):
            self.model = BulkClassifier("v1")

        def current(self):
            return self.model

    source = Switching()
    categorizer = LocalModelCategorizer(source=source)
    categorizer.prepare([("wifi down", "floor 2")])
    source.model = BulkClassifier("v2")
    decision = categorizer.categorize("wifi down", "floor 2")
    assert decision.model_version == "v2"
    assert source.model.texts == ["wifi down\nfloor 2"]      # predicted by v2, not from v1's batch
