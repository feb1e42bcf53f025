"""The local-model categorizer: department from the trained text classifier, priority from words."""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from support_shared.events import Priority

from .categorizer import Categorizer, Decision, InvalidLabelError, ModelUnavailableError, clamp
from .departments import (DEFAULT_DEPARTMENTS, Department, DepartmentSource, StaticDepartments,
                          names)
from .priority import assess_priority

if TYPE_CHECKING:
    from .model import Prediction

logger = logging.getLogger(__name__)


class Classifier(Protocol):
    """What this categorizer needs of ``model.TextClassifier``."""

    @property
    def version(self) -> str: ...

    @property
    def labels(self) -> list[str]: ...

    def predict(self, text: str) -> "Prediction": ...

    def predict_many(self, texts: Sequence[str]) -> "list[Prediction]": ...


ModelLoader = Callable[[], Classifier]


class ModelSource(Protocol):
    """Gives the model to use now; it may change between calls (``active_model.ActiveModel``)."""

    def current(self) -> Classifier: ...

# What loading can raise when the file is missing, unreadable or not a model, or when the
# model's libraries cannot be imported: the chain then carries on with keyword rules.
LOAD_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, EOFError, TypeError, ImportError)


class LocalModelCategorizer(Categorizer):
    """Wraps a ``TextClassifier``: given directly, as a loader called once on first use, or as
    a source asked on every categorization (the model can then change while running).

    The department must be one of ``departments``; with ``labels_are_departments`` it must be
    one of the model's own labels instead: a model trained on a CSV brings its departments.
    """

    name = "local_model"

    def __init__(self, model: Classifier | None = None, *, loader: ModelLoader | None = None,
                 source: ModelSource | None = None,
                 departments: DepartmentSource | None = None,
                 labels_are_departments: bool = False) -> None:
        if sum(x is not None for x in (model, loader, source)) != 1:
            raise ValueError("pass one of a model, a loader or a source")
        self.departments = departments or StaticDepartments(DEFAULT_DEPARTMENTS)
        self.labels_are_departments = labels_are_departments
        self._model = model
        self._loader = loader
        self._source = source
        self._lock = threading.Lock()
        # Predictions made in bulk by prepare(), by (model version, text); used once each.
        self._prepared: dict[tuple[str, str], Prediction] = {}

    @property
    def model(self) -> Classifier:
        """The classifier, loaded on first use; a failed load is retried on the next call."""
        if self._source is not None:
            try:
                return self._source.current()
            except LOAD_ERRORS as exc:
                raise ModelUnavailableError(f"local model not loadable: {exc}") from exc
        if self._model is None:
            with self._lock:
                if self._model is None:
                    assert self._loader is not None
                    try:
                        self._model = self._loader()
                    except LOAD_ERRORS as exc:
                        raise ModelUnavailableError(f"local model not loadable: {exc}") from exc
                    logger.info("local model %s loaded", self._model.version)
        return self._model

    def warm_up(self) -> None:
        try:
            self.model
        except ModelUnavailableError as exc:  # categorizing falls through to keywords then
            logger.warning("%s", exc)

    def prepare(self, tickets: Sequence[tuple[str, str]]) -> None:
        """Predict a batch in one call: per text, a batch costs a fraction of single calls."""
        self._prepared = {}
        try:
            model = self.model
        except ModelUnavailableError:
            return   # categorize() reports it, ticket by ticket, and the chain falls through
        texts = [_text(title, description) for title, description in tickets]
        if texts:
            predictions = model.predict_many(texts)
            self._prepared = {(model.version, t): p for t, p in zip(texts, predictions)}

    def categorize(
        self, title: str, description: str, requested_priority: Priority | None = None, *,
        departments: Sequence[Department] | None = None,
    ) -> Decision:
        """A model trained on a CSV answers its own labels (``labels_are_departments``): one
        that is no department of the tenant goes to triage for review at routing-service."""
        model = self.model  # one model for the whole decision, even if a switch happens now
        text = _text(title, description)
        prediction = self._prepared.pop((model.version, text), None)
        if prediction is None:
            prediction = model.predict(text)
        allowed = (model.labels if self.labels_are_departments
                   else names(departments or self.departments.active()))
        if prediction.label not in allowed:
            raise InvalidLabelError(f"model label {prediction.label!r} is not one of {allowed}")
        assessment = assess_priority(text, requested_priority)
        return Decision(
            department=prediction.label,
            priority=assessment.priority,
            confidence=round(clamp(float(prediction.confidence)), 4),
            method="local_model",
            model_version=model.version,
            urgency=assessment.urgency,
        )


def _text(title: str, description: str) -> str:
    return f"{title}\n{description}"
