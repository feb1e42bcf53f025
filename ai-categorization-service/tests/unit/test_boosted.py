"""The LightGBM boosters of the local model: when they are used, their output, persistence."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from ai_categorization_service import boosted, evaluation, stacking
from ai_categorization_service import model as m

QUICK = {"n_estimators": 15, "num_leaves": 7, "min_child_samples": 5, "max_bin": 15}


@pytest.fixture()
def labelled_set(labelled_rows):
    """Short texts mixing words of their label with words every label uses."""
    return lambda per_label=40, seed=3: labelled_rows(per_label, seed, lower=True)


@pytest.fixture()
def quick_boosters(monkeypatch):
    """Boosters from 50 examples on, with few small trees, so a test trains in a second."""
    monkeypatch.setattr(m, "BOOSTING_MIN_SAMPLES", 50)
    monkeypatch.setattr(boosted, "LGBM_PARAMS", {**boosted.LGBM_PARAMS, **QUICK})


@pytest.fixture()
def boosted_model(quick_boosters, labelled_set):
    texts, labels = labelled_set()
    return m.TextClassifier.train(texts, labels, version="boosted-1")


def test_boosters_are_fitted_at_the_threshold_and_decide(quick_boosters, labelled_set):
    texts, labels = labelled_set()
    assert len(texts) >= m.BOOSTING_MIN_SAMPLES
    classifier = m.TextClassifier.train(texts, labels).pipeline
    assert isinstance(classifier.boosters_, boosted.BoostedStack)
    assert len(classifier.boosters_.boosters_) == 2
    # The booster's word columns come from the vocabulary of the training texts.
    names = classifier.vectorizers_[0].get_feature_names_out()[classifier.boosters_.columns_]
    training_words = set(" ".join(texts).lower().split())
    assert len(names) > 0 and all(set(name.split()) <= training_words for name in names)
    sample = texts[:7]
    features = [vec.transform(sample) for vec in classifier.vectorizers_]
    scores = np.hstack([stacking._scores(mdl, f) for mdl, f in zip(classifier.models_, features)])
    expected = classifier.boosters_.predict_proba(scores, features[0])
    np.testing.assert_allclose(classifier.predict_proba(sample), expected)
    logistic = classifier.combiner_.predict_proba(classifier.scaler_.transform(scores))
    assert not np.allclose(classifier.predict_proba(sample), logistic)


def test_below_the_threshold_there_are_no_boosters(monkeypatch, labelled_set):
    monkeypatch.setattr(m, "BOOSTING_MIN_SAMPLES", 10_000)
    texts, labels = labelled_set()
    classifier = m.TextClassifier.train(texts, labels).pipeline
    assert classifier.boosters is None and classifier.boosters_ is None
    stacked = np.hstack([stacking._scores(mdl, vec.transform(texts[:5]))
                         for vec, mdl in zip(classifier.vectorizers_, classifier.models_)])
    np.testing.assert_allclose(classifier.predict_proba(texts[:5]),
                               classifier.combiner_.predict_proba(
                                   classifier.scaler_.transform(stacked)))


def test_boosters_can_be_left_out_above_the_threshold(quick_boosters, labelled_set):
    texts, labels = labelled_set()
    classifier = m.TextClassifier.train(texts, labels, boosters=False).pipeline
    assert classifier.boosters is None and classifier.boosters_ is None
    report = evaluation.cross_validate(texts, labels, folds=3, boosters=False)
    assert report.folds == 3 and report.accuracy > 0.5


def test_the_threshold_is_5000_and_the_default_model_has_no_boosters():
    assert m.BOOSTING_MIN_SAMPLES == 5000
    assert m.build_pipeline(4999).boosters is None
    assert isinstance(m.build_pipeline(5000).boosters, boosted.BoostedStack)
    assert not m.default_model().boosted


def test_boosted_probabilities_sum_to_one_in_label_order(boosted_model):
    texts = ["VPN down\n\nthe vpn and the router fail", "Refund\n\ninvoice refund tax",
             "Heating\n\nthe heating and the door are broken"]
    probabilities = boosted_model.predict_proba(texts)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert list(boosted_model.pipeline.boosters_.classes_) == boosted_model.labels
    assert [p.label for p in boosted_model.predict_many(texts)] == ["network", "money",
                                                                    "building"]


def test_save_and_load_keep_the_boosters_and_their_predictions(boosted_model, tmp_path,
                                                             labelled_set):
    path = tmp_path / "model.npz"
    boosted_model.save(path)
    loaded = m.TextClassifier.load(path)   # NumPy trees: LightGBM's sums, in another order
    assert loaded.boosted
    texts, _labels = labelled_set(per_label=5, seed=9)
    np.testing.assert_allclose(loaded.predict_proba(texts), boosted_model.predict_proba(texts),
                               rtol=0, atol=1e-12)


def test_word_columns_are_the_most_frequent_in_the_training_rows():
    words = sp.csr_matrix(np.array([[1, 0, 1, 0, 0],
                                    [1, 1, 0, 0, 0],
                                    [1, 1, 0, 0, 1],
                                    [0, 1, 0, 0, 1]], dtype=np.float32))
    assert boosted.top_columns_by_document_frequency(words, 3).tolist() == [0, 1, 4]
    assert boosted.top_columns_by_document_frequency(words, 99).tolist() == [0, 1, 2, 3, 4]


def test_word_columns_are_chosen_from_training_data_only():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(60, 3))
    frequent = np.zeros((60, 6), dtype=np.float32)
    frequent[:, :2] = rng.random((60, 2))  # columns 0 and 1 occur in every training row
    frequent[::10, 2:] = 1.0
    y = np.array(["a", "b", "c"] * 20)
    stack = boosted.BoostedStack(n_word_columns=2, params=QUICK).fit(
        scores, sp.csr_matrix(frequent), y)
    assert stack.columns_.tolist() == [0, 1]
    # Rows to predict where other columns dominate must not change the chosen columns.
    later = np.zeros((5, 6), dtype=np.float32)
    later[:, 4:] = 1.0
    probabilities = stack.predict_proba(rng.normal(size=(5, 3)), sp.csr_matrix(later))
    assert stack.columns_.tolist() == [0, 1]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_serving_the_default_model_never_loads_lightgbm():
    """LightGBM and its OpenMP runtime cost memory in every AI process; only a model with
    boosters may load them (a fresh interpreter: this test module imported them already)."""
    code = ("import sys\n"
            "from ai_categorization_service import model\n"
            "model.default_model().predict('VPN down since this morning')\n"
            "assert 'lightgbm' not in sys.modules, 'lightgbm was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
