"""Gradient-boosted trees stacked on the linear views, for large training sets.

On tens of thousands of tickets, trees over the linear views' scores and the most frequent
words find interactions a linear combiner cannot (a word that flips the meaning of a score),
worth about one point of accuracy. On small sets they over-fit and cost time, so
``model.build_pipeline`` only adds them from ``BOOSTING_MIN_SAMPLES`` examples on.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator

WORD_COLUMNS = 10_000

# Chosen on a holdout fold of the IT-service tickets (38k rows, 8 labels). A coarse histogram
# (max_bin) and a large min_child_samples (LightGBM drops columns too rare to split) keep the
# training time a few minutes on one core at almost the same accuracy.
LGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.06,
    "num_leaves": 31,
    "max_bin": 63,
    "min_child_samples": 30,
    "subsample": 0.8,
    "subsample_freq": 1,
}


def top_columns_by_document_frequency(features: Any, n_columns: int) -> np.ndarray:
    """Indices of the ``n_columns`` columns non-zero in the most rows, in ascending order.

    Document frequency needs no labels, so it cannot leak them; ties keep the lower index so
    the choice is deterministic.
    """
    frequency = np.asarray((features != 0).sum(axis=0)).ravel()
    n_columns = min(n_columns, frequency.size)
    return np.sort(np.argsort(-frequency, kind="stable")[:n_columns])


class BoostedStack(BaseEstimator):
    """Two LightGBM models whose probabilities are averaged.

    One sees the linear views' decision scores beside the chosen word columns, the other the
    word columns alone, so the pair does not lean entirely on the linear models' errors.
    ``fit`` must get out-of-fold view scores (scores on text the views did not train on) and
    ``predict_proba`` the scores of the views trained on everything, as at serving time.
    """

    def __init__(self, n_word_columns: int = WORD_COLUMNS,
                 params: dict[str, Any] | None = None, random_state: int = 0) -> None:
        self.n_word_columns = n_word_columns
        self.params = params
        self.random_state = random_state

    def _booster(self) -> LGBMClassifier:
        params = {**LGBM_PARAMS, **(self.params or {})}
        # One thread: the service runs on one core, and a fixed seed makes training repeatable.
        return LGBMClassifier(random_state=self.random_state, n_jobs=1, verbose=-1, **params)

    def _inputs(self, scores: np.ndarray, words: Any) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        chosen = sp.csr_matrix(words)[:, self.columns_].astype(np.float32)
        both = sp.hstack([sp.csr_matrix(scores.astype(np.float32)), chosen], format="csr")
        return both, chosen

    def fit(self, scores: np.ndarray, words: Any, y: Sequence[str]) -> "BoostedStack":
        """Choose the word columns on these (training) rows, then fit both boosters."""
        y = np.asarray(y)
        self.columns_ = top_columns_by_document_frequency(words, self.n_word_columns)
        both, chosen = self._inputs(scores, words)
        self.boosters_ = [self._booster().fit(both, y), self._booster().fit(chosen, y)]
        self.classes_ = self.boosters_[0].classes_
        return self

    def predict_proba(self, scores: np.ndarray, words: Any) -> np.ndarray:
        """The boosters' mean probabilities, columns in ``classes_`` order."""
        inputs = self._inputs(scores, words)
        return np.mean([booster.predict_proba(x) for booster, x in zip(self.boosters_, inputs)],
                       axis=0)
