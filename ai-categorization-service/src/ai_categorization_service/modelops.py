"""Operator tasks on the local model (``ticketctl model ...``): train on a labelled CSV,
evaluate, retrain on agents' corrections. Listing and activating versions is
``registry.ModelRegistry``'s (no scikit-learn needed)."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.model_selection import KFold
from sqlalchemy.engine import Engine

from . import evaluation, model
from .evaluation import EvaluationReport
from .model import TextClassifier
from .registry import ModelRegistry, ModelVersion
from .training_data import DataError, NothingToRetrainError, corrected_examples

logger = logging.getLogger(__name__)

ACTIVE = "active"  # ``--version active``: the model the services use right now
MIN_EXAMPLES = 2   # per label: fewer cannot be trained on (the classifier's own limit)


__all__ = ["DataError", "NothingToRetrainError", "train_from_csv", "evaluate_csv", "retrain"]


@dataclass(frozen=True)
class TrainResult:
    version: ModelVersion
    report: EvaluationReport | None   # k-fold figures on the CSV; None with folds=0
    dropped_labels: dict[str, int]    # labels with too few rows to learn, and their counts
    # the model's labels that are no department (checked against a tenant's departments)
    without_department: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Evaluation:
    subject: str
    report: EvaluationReport
    dropped_labels: dict[str, int]


@dataclass(frozen=True)
class RetrainResult:
    before_version: str
    before: EvaluationReport
    after: EvaluationReport
    evaluated_on: str
    corrections: int
    dropped_labels: dict[str, int]
    version: ModelVersion
    withheld: bool = False   # stored but not activated: it scored below the active model


def read_csv(path: str | Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    try:
        texts, labels = model.read_labelled_csv(path, text_column, label_column)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: {exc}") from exc
    except ValueError as exc:  # a missing column
        raise DataError(str(exc)) from exc
    if not texts:
        raise DataError(f"{path}: no row has both a {text_column!r} and a {label_column!r}")
    return texts, labels


def train_labelled(texts: Sequence[str], labels: Sequence[str], *,
                   seed: int = 0) -> tuple[TextClassifier, dict[str, int]]:
    """Train on the labels with at least ``MIN_EXAMPLES`` rows; the others are left out."""
    texts, labels, dropped = _trainable(texts, labels)
    return TextClassifier.train(texts, labels, seed=seed), dropped


def _trainable(texts: Sequence[str],
               labels: Sequence[str]) -> tuple[list[str], list[str], dict[str, int]]:
    counts = Counter(labels)
    dropped = {label: n for label, n in sorted(counts.items()) if n < MIN_EXAMPLES}
    kept = [(t, label) for t, label in zip(texts, labels) if label not in dropped]
    if len(counts) - len(dropped) < 2:
        raise DataError(f"training needs two labels with {MIN_EXAMPLES} rows each; "
                        f"rows per label: {dict(counts)}")
    return [t for t, _ in kept], [label for _, label in kept], dropped


def _cross_validate(texts: list[str], labels: list[str], folds: int,
                    seed: int, boosters: bool = True) -> EvaluationReport:
    """Stratified k-fold; k is lowered to the rarest label's row count when that is smaller."""
    k = min(folds, min(Counter(labels).values()))
    if k < folds:
        logger.warning("%d-fold cross-validation: the rarest label has only %d rows", folds, k)
    return evaluation.cross_validate(texts, labels, folds=k, seed=seed, boosters=boosters)


def map_labels(labels: Sequence[str], label_map: Mapping[str, str],
               departments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each label as a department: mapped by ``label_map``, else the department of the same
    name (any case) in ``departments``, else left as it is. Returns the labels and the
    distinct ones that are no department (their tickets go to triage for review)."""
    unknown = sorted(set(label_map) - set(labels))
    if unknown:
        raise DataError(f"--map names labels the file does not have: {', '.join(unknown)}")
    by_key = {d.strip().lower(): d for d in departments}
    mapped = [label_map.get(label, by_key.get(label.strip().lower(), label)) for label in labels]
    known = {d.strip().lower() for d in departments}
    unmapped = sorted({label for label in mapped if label.strip().lower() not in known})
    return mapped, unmapped


def train_from_csv(engine: Engine, path: str | Path, text_column: str, label_column: str, *,
                   folds: int = 5, activate: bool = False, seed: int = 0,
                   boosters: bool = True, label_map: Mapping[str, str] | None = None,
                   departments: Sequence[str] | None = None) -> TrainResult:
    """Cross-validate (unless ``folds`` is 0), train on every row, store as a new version.

    The CSV's labels, mapped to departments (``map_labels``: ``label_map`` first, else the
    department of the same name), become what the model answers. ``boosters`` False: the
    linear stack alone even on a large file (faster to train and to serve, less accurate).
    """
    texts, raw_labels = read_csv(path, text_column, label_column)
    without: list[str] = []
    if departments is not None:
        raw_labels, without = map_labels(raw_labels, label_map or {}, departments)
    texts, labels, dropped = _trainable(texts, raw_labels)
    report = _cross_validate(texts, labels, folds, seed, boosters) if folds else None
    classifier = TextClassifier.train(texts, labels, seed=seed, boosters=boosters)
    metrics = None
    if report is not None:
        metrics = {**report.to_dict(),
                   "evaluated_on": f"{report.folds}-fold cross-validation on {Path(path).name}"}
    saved = ModelRegistry(engine).save(classifier, source="csv", training_rows=len(texts),
                                       metrics=metrics, activate=activate)
    return TrainResult(saved, report, dropped, [w for w in without if w in saved.labels])


def load_model(engine: Engine, version: str) -> TextClassifier:
    """A stored version, or with ``ACTIVE`` the model in use (the default without one)."""
    registry = ModelRegistry(engine)
    if version == ACTIVE:
        return registry.load_active() or model.default_model()
    return registry.load(version)


def evaluate_csv(engine: Engine, path: str | Path, text_column: str, label_column: str, *,
                 folds: int = 5, version: str | None = None, seed: int = 0,
                 boosters: bool = True) -> Evaluation:
    """``version`` scored on the whole file (a holdout it never saw), or without ``version``
    k-fold cross-validation of a new model on the file."""
    texts, labels = read_csv(path, text_column, label_column)
    name = Path(path).name
    if version is not None:
        classifier = load_model(engine, version)
        return Evaluation(f"model {classifier.version} on {name} (held out)",
                          score(classifier.labels, classifier.predict_proba(texts), labels), {})
    texts, labels, dropped = _trainable(texts, labels)
    report = _cross_validate(texts, labels, folds, seed, boosters)
    return Evaluation(f"{report.folds}-fold cross-validation of a new model on {name}",
                      report, dropped)


def retrain(engine: Engine, *, folds: int = 5, activate: bool = True, seed: int = 0,
            min_corrections: int = 1, only_if_better: bool = False) -> RetrainResult:
    """Train on the shipped examples plus agents' corrections; store (and activate) it.

    Before and after are scored on the same rows: those the active model has not learned
    from (the corrections since it was trained; every row when it came from a CSV). The
    active model predicts them as it is; the new recipe predicts each of k folds of them
    from a model trained on everything else. Refused (``NothingToRetrainError``) with fewer
    than ``min_corrections`` corrections the active model has not seen. ``only_if_better``:
    the new version is activated only if its accuracy on those rows is at least the active
    model's (it is stored either way, ``withheld`` when it was not activated).
    """
    registry = ModelRegistry(engine)
    with engine.connect() as conn:
        corrections = corrected_examples(conn)
    if not corrections:
        raise NothingToRetrainError("no corrections stored yet: agents' manual routings and "
                                    "reroutes become training examples")
    active_info = registry.active()
    active = registry.load(active_info.version) if active_info else model.default_model()
    default_texts, default_labels = model.default_examples()
    texts = default_texts + [c.text for c in corrections]
    labels = default_labels + [c.department for c in corrections]
    defaults_seen, seen_through = _seen_by(active_info)
    unseen = ([] if defaults_seen else list(range(len(default_texts)))) + [
        len(default_texts) + i for i, c in enumerate(corrections) if c.id > seen_through]
    if not unseen:
        raise NothingToRetrainError(f"no corrections since model {active.version} was trained")
    new_corrections = sum(1 for c in corrections if c.id > seen_through)
    if new_corrections < min_corrections:
        raise NothingToRetrainError(
            f"{new_corrections} corrections since model {active.version} was trained; "
            f"waiting for {min_corrections}")
    held_texts, held_labels = [texts[i] for i in unseen], [labels[i] for i in unseen]
    before = score(active.labels, active.predict_proba(held_texts), held_labels)
    after = held_out_report(texts, labels, unseen, folds=folds, seed=seed)
    evaluated_on = (f"{len(unseen)} rows {active.version} did not learn from "
                    f"(the new model: {max(after.folds, 1)}-fold)")
    classifier, dropped = train_labelled(texts, labels, seed=seed)
    metrics = {
        **after.to_dict(), "evaluated_on": evaluated_on,
        "baseline": {"version": active.version, **_headline(before)},
        "corrections": len(corrections),
        "corrections_through_id": max(c.id for c in corrections),
    }
    withheld = activate and only_if_better and after.accuracy < before.accuracy
    saved = registry.save(classifier, source="retrain",
                          training_rows=len(texts) - sum(dropped.values()),
                          metrics=metrics, activate=activate and not withheld)
    return RetrainResult(active.version, before, after, evaluated_on, len(corrections),
                         dropped, saved, withheld)


def _seen_by(active: ModelVersion | None) -> tuple[bool, int]:
    """(trained on the shipped examples?, corrections up to which id) of the active model."""
    if active is None or active.source == "default":
        return True, 0
    if active.source == "retrain":
        return True, int((active.metrics or {}).get("corrections_through_id", 0))
    return False, 0  # csv: other data altogether


def _headline(report: EvaluationReport) -> dict[str, Any]:
    return {"accuracy": report.accuracy, "macro_f1": report.macro_f1,
            "coverage_at_95_precision": report.coverage_at_95_precision,
            "n_samples": report.n_samples}


class _Pooled:
    """Probabilities computed beforehand, presented as a model so ``evaluation.evaluate`` scores
    them."""

    def __init__(self, labels: list[str], probabilities: np.ndarray) -> None:
        self.labels = labels
        self.probabilities = probabilities

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.probabilities


def score(labels: Sequence[str], probabilities: np.ndarray,
          y_true: Sequence[str]) -> EvaluationReport:
    """Figures of predictions on held-out rows (``probabilities`` columns in ``labels`` order).

    Per-class rows and macro-F1 cover the labels that occur in ``y_true`` or among the
    predictions, as scikit-learn does by default: a model label the rows never mention and the
    model never chose would otherwise count as an F1 of 0 and drag macro-F1 down.
    """
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    used = set(probabilities.argmax(axis=1).tolist()) | {index[y] for y in y_true if y in index}
    keep = sorted(used)  # the argmax column of every row stays: predictions do not change
    pooled = _Pooled([labels[i] for i in keep], probabilities[:, keep])
    return evaluation.evaluate(pooled, [""] * len(y_true), y_true)  # type: ignore[arg-type]


def held_out_report(texts: Sequence[str], labels: Sequence[str], test_rows: Sequence[int], *,
                    folds: int = 5, seed: int = 0) -> EvaluationReport:
    """Score the training recipe on ``test_rows``: each of k folds of them is predicted by a
    model trained on all other rows. With one test row, that row is the only fold."""
    test = np.asarray(test_rows, dtype=int)
    rest = np.setdiff1d(np.arange(len(texts)), test)
    names = sorted(set(labels))
    probabilities = np.zeros((len(test), len(names)))
    n_splits = min(folds, len(test))
    splits = (KFold(n_splits, shuffle=True, random_state=seed).split(test) if n_splits >= 2
              else [(np.zeros(0, dtype=int), np.arange(len(test)))])
    fold_accuracy = []
    for keep, held in splits:
        train = np.concatenate([rest, test[keep]])
        classifier, _ = train_labelled([texts[i] for i in train], [labels[i] for i in train],
                                       seed=seed)
        columns = [names.index(label) for label in classifier.labels]
        probabilities[np.ix_(held, columns)] = classifier.predict_proba(
            [texts[i] for i in test[held]])
        predicted = np.asarray(names)[probabilities[held].argmax(axis=1)]
        fold_accuracy.append(float(np.mean(predicted == np.asarray(labels)[test[held]])))
    report = score(names, probabilities, [labels[i] for i in test])
    return replace(report, folds=n_splits if n_splits >= 2 else 0, fold_accuracy=fold_accuracy)
