"""How good a model is: held-out scores, cross-validation, coverage at a target precision."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from .model import TextClassifier

logger = logging.getLogger(__name__)


@dataclass
class EvaluationReport:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    coverage_at_95_precision: float  # fraction of samples auto-routable at >= 95% precision
    threshold_at_95_precision: float | None  # the confidence threshold that achieves it
    folds: int
    n_samples: int
    fold_accuracy: list[float] = field(default_factory=list)  # per fold, cross-validation only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format_table(self) -> str:
        """A plain-text table: per-class figures, then the overall ones."""
        width = max([len("label")] + [len(label) for label in self.per_class])
        lines = [f"{'label':<{width}}  precision  recall      f1  support"]
        for label, row in self.per_class.items():
            lines.append(f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}"
                         f"  {row['f1']:6.4f}  {int(row['support']):7d}")
        threshold = ("none" if self.threshold_at_95_precision is None
                     else f"{self.threshold_at_95_precision:.4f}")
        lines += [
            "",
            f"samples: {self.n_samples}  folds: {self.folds}",
            f"accuracy: {self.accuracy:.4f}  macro-F1: {self.macro_f1:.4f}",
            f"coverage at 95% precision: {self.coverage_at_95_precision:.4f}"
            f"  (confidence threshold {threshold})",
        ]
        if self.fold_accuracy:
            lines.append("fold accuracy: " + " ".join(f"{a:.4f}" for a in self.fold_accuracy))
        return "\n".join(lines)


def coverage_at_precision(confidences: Sequence[float], correct: Sequence[bool],
                          target: float = 0.95) -> tuple[float, float | None]:
    """Largest fraction of samples whose confidence >= some threshold reach ``target`` precision.

    Returns ``(coverage, threshold)``; ``(0.0, None)`` when no threshold reaches the target.
    Samples tied at the threshold are all routed, so the threshold always sits on a tie's end.
    """
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape:
        raise ValueError("confidences and correct differ in length")
    if conf.size == 0:
        return 0.0, None
    order = np.argsort(-conf, kind="stable")
    conf, hits = conf[order], hits[order]
    precision = np.cumsum(hits) / np.arange(1, conf.size + 1)
    tie_end = np.append(conf[1:] != conf[:-1], True)
    ok = np.flatnonzero((precision >= target) & tie_end)
    if ok.size == 0:
        return 0.0, None
    last = int(ok[-1])
    return (last + 1) / conf.size, float(conf[last])


def _report(y_true: Sequence[str], probabilities: np.ndarray, labels: list[str], folds: int,
            fold_accuracy: list[float] | None = None) -> EvaluationReport:
    y_true = np.asarray(y_true)
    predicted = np.asarray(labels)[probabilities.argmax(axis=1)]
    names = sorted(set(labels) | set(y_true.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=names, zero_division=0)
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f),
                        "support": float(s)}
                 for name, p, r, f, s in zip(names, precision, recall, f1, support)}
    coverage, threshold = coverage_at_precision(probabilities.max(axis=1), predicted == y_true)
    return EvaluationReport(
        accuracy=float(np.mean(predicted == y_true)), macro_f1=float(np.mean(f1)),
        per_class=per_class, coverage_at_95_precision=coverage,
        threshold_at_95_precision=threshold, folds=folds, n_samples=int(y_true.size),
        fold_accuracy=fold_accuracy or [])


def evaluate(model: TextClassifier, texts: Sequence[str],
             labels: Sequence[str]) -> EvaluationReport:
    """Score a trained model on held-out labelled texts."""
    return _report(labels, model.predict_proba(texts), model.labels, folds=0)


def cross_validate(texts: Sequence[str], labels: Sequence[str], *, folds: int = 5,
                   seed: int = 0, boosters: bool = True) -> EvaluationReport:
    """Stratified k-fold: train on k-1 folds, predict the held-out one; pooled figures."""
    texts, y = list(texts), np.asarray([str(label) for label in labels])
    _, counts = np.unique(y, return_counts=True)
    if folds < 2 or counts.min() < folds:
        raise ValueError(f"{folds}-fold cross-validation needs >= {folds} examples of each label")
    label_names = sorted(set(y.tolist()))
    probabilities = np.zeros((len(texts), len(label_names)))
    fold_accuracy = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y), start=1):
        model = TextClassifier.train([texts[i] for i in train], y[train].tolist(), seed=seed,
                                     boosters=boosters)
        columns = [label_names.index(label) for label in model.labels]
        probabilities[np.ix_(test, columns)] = model.predict_proba([texts[i] for i in test])
        predicted = np.asarray(label_names)[probabilities[test].argmax(axis=1)]
        fold_accuracy.append(float(np.mean(predicted == y[test])))
        logger.info("fold %d/%d: accuracy %.4f", fold, folds, fold_accuracy[-1])
    return _report(y, probabilities, label_names, folds, fold_accuracy)
