"""The hot switch with a fake registry and clock: when it asks, what it swaps, what it keeps."""
from dataclasses import dataclass

import pytest
from sqlalchemy.exc import OperationalError

from ai_categorization_service.active_model import ActiveModel
from ai_categorization_service.categorizer import InvalidLabelError
from ai_categorization_service.local_model import LocalModelCategorizer
from ai_categorization_service.registry import ArtifactError


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict


class Model:
    def __init__(self, version, labels=("IT Support", "HR"), answer="HR"):
        self.version = version
        self.labels = list(labels)
        self.answer = answer

    def predict(self, text):
        return Prediction(self.answer, 0.9, {self.answer: 0.9})


class FakeRegistry:
    def __init__(self):
        self.active = None
        self.models = {}
        self.asked = 0
        self.loads = []
        self.down = False

    def active_id(self):
        self.asked += 1
        if self.down:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return self.active

    def load_by_id(self, version_id):
        self.loads.append(version_id)
        model = self.models[version_id]
        if isinstance(model, Exception):
            raise model
        return model


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


DEFAULT = Model("default-abc")


@pytest.fixture
def setup():
    registry, clock = FakeRegistry(), Clock()
    active = ActiveModel(registry, lambda: DEFAULT, refresh_s=5.0, clock=clock)
    return registry, clock, active


def test_without_a_stored_version_the_fallback_is_used(setup):
    registry, _, active = setup
    assert active.current() is DEFAULT
    assert active.version_id is None


def test_asks_at_most_once_per_interval_and_switches_after_it(setup):
    registry, clock, active = setup
    registry.models[1] = Model("v1")
    registry.active = 1
    assert active.current().version == "v1"
    registry.models[2] = Model("v2")
    registry.active = 2
    clock.now += 4.9
    assert active.current().version == "v1"           # not yet due: not even asked
    assert registry.asked == 1
    clock.now += 0.1
    assert active.current().version == "v2"
    assert registry.asked == 2 and registry.loads == [1, 2]
    clock.now += 5
    assert active.current().version == "v2"            # unchanged: asked, not reloaded
    assert registry.loads == [1, 2]


def test_deactivation_goes_back_to_the_fallback(setup):
    registry, clock, active = setup
    registry.models[1] = Model("v1")
    registry.active = 1
    assert active.current().version == "v1"
    registry.active = None
    clock.now += 5
    assert active.current() is DEFAULT


def test_a_broken_artifact_keeps_the_model_in_use_and_is_not_retried(setup):
    registry, clock, active = setup
    registry.models[1] = Model("v1")
    registry.models[2] = ArtifactError("model v2: artifact does not load")
    registry.active = 1
    active.current()
    registry.active = 2
    for _ in range(3):
        clock.now += 5
        assert active.current().version == "v1"
    assert registry.loads == [1, 2]


def test_database_down_keeps_the_model_in_use(setup):
    registry, clock, active = setup
    registry.models[1] = Model("v1")
    registry.active = 1
    active.current()
    registry.down = True
    clock.now += 5
    assert active.current().version == "v1"


def test_database_down_at_start_uses_the_fallback_then_switches(setup):
    registry, clock, active = setup
    registry.down = True
    assert active.current() is DEFAULT
    registry.down, registry.active, registry.models[1] = False, 1, Model("v1")
    clock.now += 5
    assert active.current().version == "v1"


def test_categorizer_records_the_version_in_use_and_follows_its_labels(setup):
    registry, clock, active = setup
    categorizer = LocalModelCategorizer(source=active, labels_are_departments=True)
    assert categorizer.categorize("t", "d").model_version == "default-abc"
    registry.models[1] = Model("v1", labels=("Hardware", "Access"), answer="Access")
    registry.active = 1
    clock.now += 5
    decision = categorizer.categorize("t", "d")
    assert (decision.department, decision.model_version) == ("Access", "v1")


def test_without_following_labels_the_departments_still_apply(setup):
    registry, _, active = setup
    registry.models[1] = Model("v1", labels=("Hardware", "Access"), answer="Access")
    registry.active = 1
    with pytest.raises(InvalidLabelError):
        LocalModelCategorizer(source=active).categorize("t", "d")


def test_one_of_model_loader_or_source():
    with pytest.raises(ValueError):
        LocalModelCategorizer(Model("x"), source=object())
