"""The learned ticket classifier: training, saving and the shipped default model.

Training uses scikit-learn (and LightGBM for large sets); serving does not: a trained model
is exported to NumPy arrays (``compiled()``, ``export.compile_pipeline``) and that is what
``save``, the registry and the shipped ``default_model.npz`` store (see ``inference``).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import pickle
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from . import inference
from .export import compile_pipeline
# Re-exported: ``Prediction`` and ``default_examples`` lived here, and models pickled before
# stacking.py existed name ``StackedLinearClassifier`` and ``title_words`` as ``model.<name>``.
from .inference import (DEFAULT_EXAMPLES, Classifier, CompiledClassifier, Prediction,  # noqa: F401
                        default_examples, default_model, title_words)
from .inference import fingerprint as _fingerprint
from .stacking import StackedLinearClassifier

if TYPE_CHECKING:
    from .boosted import BoostedStack

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
# From this many training examples on, gradient-boosted trees join the linear stack: worth about
# a point of accuracy on tens of thousands of tickets, but they over-fit small sets.
BOOSTING_MIN_SAMPLES = 5000


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


class TextClassifier(Classifier):
    """A scikit-learn model that can be trained; ``compiled()`` is what is stored and served."""

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

    def _sklearn_version(self) -> str | None:
        return sklearn.__version__

    def compiled(self) -> CompiledClassifier:
        """This model as ``inference`` serves it: NumPy arrays, the same predictions."""
        header, arrays = compile_pipeline(self.pipeline)
        return inference.build({**header, **self.metadata()}, arrays)

    def to_bytes(self) -> bytes:
        """The model in the stored format (``inference``: an ``.npz``, no pickles)."""
        return self.compiled().to_bytes()

    def save(self, path: PathLike) -> None:
        """Write the model (``.npz``), and its metadata to ``<path>.json`` beside it."""
        self.compiled().save(path)

    @classmethod
    def load(cls, path: PathLike) -> CompiledClassifier:
        """Read a model written by ``save`` (or by the older joblib format): it predicts with
        NumPy. Only load trusted files: an old-format file runs pickles."""
        return inference.load_classifier(path)


def load_legacy(data: bytes, origin: str) -> TextClassifier:
    """A model in the format written before ``inference`` (joblib: a pickle of the pipeline).

    joblib runs pickles: only files and rows this service wrote are ever loaded.
    """
    try:
        payload = joblib.load(io.BytesIO(data))
    except (pickle.UnpicklingError, EOFError, LookupError, ValueError, ImportError,
            AttributeError) as exc:
        raise ValueError(f"{origin} is not a saved TextClassifier: {exc!r}") from exc
    if not isinstance(payload, dict) or "pipeline" not in payload or "labels" not in payload:
        raise ValueError(f"{origin} is not a saved TextClassifier")
    if payload.get("sklearn_version") != sklearn.__version__:
        logger.warning("model %s was saved with scikit-learn %s, running %s", origin,
                       payload.get("sklearn_version"), sklearn.__version__)
    try:
        return TextClassifier(payload["pipeline"], payload["labels"], payload["version"],
                              payload.get("metrics"), trained_at=payload.get("trained_at"))
    except (KeyError, AttributeError) as exc:
        raise ValueError(f"{origin}: {exc!r}") from exc


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


def train_default() -> TextClassifier:
    """The default model, trained on the shipped examples (what ``default_model.npz`` holds)."""
    texts, labels = default_examples()
    return TextClassifier.train(texts, labels, version=f"default-{_fingerprint(texts, labels)}")


def export_default_model(path: PathLike | None = None) -> Path:
    """Train the default model and write it where the package ships it (or to ``path``).

    Run after editing ``default_examples.jsonl`` or upgrading scikit-learn; a test checks
    that the shipped file matches both.
    """
    if path is None:
        path = Path(str(resources.files(__package__).joinpath(inference.DEFAULT_MODEL)))
    path = Path(path)
    classifier = train_default()
    path.write_bytes(classifier.to_bytes())
    logger.info("wrote default model %s to %s", classifier.version, path)
    return path
