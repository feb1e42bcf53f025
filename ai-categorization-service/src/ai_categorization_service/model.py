"""The learned ticket classifier: training, prediction, saving and the shipped default model."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

# Models saved before stacking.py existed name both as ``model.<name>``: unpickling needs them here.
from .stacking import StackedLinearClassifier, title_words

if TYPE_CHECKING:
    from .boosted import BoostedStack

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
DEFAULT_EXAMPLES = "default_examples.jsonl"
# From this many training examples on, gradient-boosted trees join the linear stack: worth about
# a point of accuracy on tens of thousands of tickets, but they over-fit small sets.
BOOSTING_MIN_SAMPLES = 5000


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # calibrated probability of the top label, 0..1
    probabilities: dict[str, float]


def build_pipeline(n_samples: int, seed: int = 0, *,
                   boosters: bool = True) -> StackedLinearClassifier:
    """The chosen model: linear SVMs on word 1-2-grams, char 2-5-grams and the title, stacked.

    From ``BOOSTING_MIN_SAMPLES`` examples on, LightGBM boosters replace the logistic combiner,
    unless ``boosters`` is False (the linear stack alone predicts about twice as fast).
    """
    # Words seen once are noise in a large corpus but much of the signal in a small one.
    min_df = 2 if n_samples >= 5000 else 1
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                            strip_accents="unicode", dtype=np.float32)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                            min_df=min_df, strip_accents="unicode", dtype=np.float32)
    title = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                            preprocessor=title_words, dtype=np.float32)
    return StackedLinearClassifier(
        views=[("words", words, LinearSVC(C=0.4)), ("chars", chars, LinearSVC(C=0.3)),
               ("title", title, LinearSVC(C=0.4))],
        meta_c=0.1, random_state=seed,
        boosters=_boosters(seed) if boosters and n_samples >= BOOSTING_MIN_SAMPLES else None,
    )


def _boosters(seed: int) -> "BoostedStack":
    # LightGBM (and its OpenMP runtime) is loaded only by processes that train or load a model
    # with boosters; the shipped default model, and every process serving it, never need it.
    from .boosted import BoostedStack

    return BoostedStack(random_state=seed)


def _fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels):
        digest.update(label.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:12]


class TextClassifier:
    """A trained model with its labels, version and (optional) evaluation metrics."""

    def __init__(self, pipeline: Any, labels: list[str], version: str,
                 metrics: dict[str, Any] | None = None, trained_at: str | None = None) -> None:
        self._labels = [str(label) for label in labels]
        if [str(label) for label in pipeline.classes_] != self._labels:
            raise ValueError(f"labels {labels} differ from the model's {list(pipeline.classes_)}")
        self.pipeline = pipeline
        self._version = version
        self._metrics = metrics
        self.trained_at = trained_at

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def version(self) -> str:
        return self._version

    @property
    def metrics(self) -> dict[str, Any] | None:
        return self._metrics

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], *,
              version: str | None = None, seed: int = 0,
              boosters: bool = True) -> "TextClassifier":
        """Fit the pipeline on raw texts ("title\\n\\ndescription") and their labels."""
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        texts, labels = list(texts), [str(label) for label in labels]
        pipeline = build_pipeline(len(texts), seed=seed, boosters=boosters).fit(texts, labels)
        version = version or f"model-{_fingerprint(texts, labels)}"
        trained_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        logger.info("trained model %s on %d texts, %d labels", version, len(texts),
                    len(pipeline.classes_))
        return cls(pipeline, list(pipeline.classes_), version, trained_at=trained_at)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``labels`` order."""
        return self.pipeline.predict_proba(list(texts))

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        if len(texts) == 0:
            return []
        probabilities = self.predict_proba(texts)
        best = probabilities.argmax(axis=1)
        return [
            Prediction(label=self._labels[i], confidence=float(row[i]),
                       probabilities={lbl: float(p) for lbl, p in zip(self._labels, row)})
            for i, row in zip(best, probabilities)
        ]

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    def metadata(self) -> dict[str, Any]:
        return {"version": self._version, "labels": self._labels, "metrics": self._metrics,
                "trained_at": self.trained_at, "sklearn_version": sklearn.__version__}

    def save(self, path: PathLike) -> None:
        """Write the model with joblib, and its metadata to ``<path>.json`` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = self.metadata()
        joblib.dump({"pipeline": self.pipeline, **meta}, path, compress=3)
        _metadata_path(path).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        logger.info("saved model %s to %s", self._version, path)

    @classmethod
    def load(cls, path: PathLike) -> "TextClassifier":
        """Read a model written by ``save``. Only load trusted files: joblib runs pickles."""
        path = Path(path)
        try:
            data = joblib.load(path)
        except (pickle.UnpicklingError, EOFError, LookupError) as exc:
            raise ValueError(f"{path} is not a saved TextClassifier: {exc!r}") from exc
        if not isinstance(data, dict) or "pipeline" not in data:
            raise ValueError(f"{path} is not a saved TextClassifier")
        if data.get("sklearn_version") != sklearn.__version__:
            logger.warning("model %s was saved with scikit-learn %s, running %s", path,
                           data.get("sklearn_version"), sklearn.__version__)
        return cls(data["pipeline"], data["labels"], data["version"], data.get("metrics"),
                   trained_at=data.get("trained_at"))


def _metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_labelled_csv(path: PathLike, text_column: str,
                      label_column: str) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV with a header; rows missing either value are skipped."""
    texts, labels, skipped = [], [], 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; columns are {reader.fieldnames}")
        for row in reader:
            text = (row.get(text_column) or "").strip()
            label = (row.get(label_column) or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
            else:
                skipped += 1
    if skipped:
        logger.warning("%s: skipped %d rows without text or label", path, skipped)
    return texts, labels


def default_examples() -> tuple[list[str], list[str]]:
    """The labelled examples shipped with the package, as ("title\\n\\ndescription", department)."""
    raw = resources.files(__package__).joinpath(DEFAULT_EXAMPLES).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return ([f"{r['title']}\n\n{r['description']}" for r in rows],
            [r["department"] for r in rows])


_default_lock = threading.Lock()
_default: TextClassifier | None = None


def default_model() -> TextClassifier:
    """A model trained on the shipped examples at first use, then kept for the process."""
    global _default
    with _default_lock:
        if _default is None:
            texts, labels = default_examples()
            _default = TextClassifier.train(
                texts, labels, version=f"default-{_fingerprint(texts, labels)}")
        return _default
