"""The NumPy serving path: the same decisions as scikit-learn, no scikit-learn when serving."""
import csv
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

from ai_categorization_service import boosted, inference
from ai_categorization_service import model as m

DATASET = Path(os.environ.get("IT_TICKETS_CSV",
                              "/work/shared/datasets/it_service_tickets_train.csv"))
TRICKY = ["Ça ne marche pas — café, résumé, naïve", "", "a", "x y",
          "Hello\n\n  World  tab\tX   ", "ÉCRAN cassé!!! 2 fois", "ﬁle ligature № ½"]


def _dataset_rows(n: int) -> tuple[list[str], list[str]]:
    if not DATASET.is_file():
        pytest.skip(f"{DATASET} is not here (the dataset is never copied into the repo)")
    with open(DATASET, newline="", encoding="utf-8") as handle:
        rows = [row for row, _ in zip(csv.DictReader(handle), range(n))]
    return [r["Document"] for r in rows], [r["Topic_group"] for r in rows]


def test_numpy_path_matches_sklearn_on_2000_it_tickets():
    texts, labels = _dataset_rows(3500)
    trained = m.TextClassifier.train(texts[:1500], labels[:1500])
    compiled = inference.load_classifier_bytes(trained.to_bytes(), "test")
    held_out = texts[1500:] + TRICKY
    expected = trained.predict_proba(held_out)
    got = compiled.predict_proba(held_out)
    assert got.shape == expected.shape == (2000 + len(TRICKY), len(trained.labels))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert ([p.label for p in compiled.predict_many(held_out)]
            == [p.label for p in trained.predict_many(held_out)])


def test_boosted_numpy_trees_match_lightgbm(labelled_rows, monkeypatch):
    monkeypatch.setattr(m, "BOOSTING_MIN_SAMPLES", 50)
    monkeypatch.setattr(boosted, "LGBM_PARAMS", {**boosted.LGBM_PARAMS, "n_estimators": 20,
                                                 "num_leaves": 7, "min_child_samples": 5})
    texts, labels = labelled_rows(per_label=40, seed=3)
    trained = m.TextClassifier.train(texts, labels)
    compiled = trained.compiled()
    assert compiled.boosted
    held_out = labelled_rows(per_label=30, seed=11)[0] + TRICKY
    np.testing.assert_allclose(compiled.predict_proba(held_out), trained.predict_proba(held_out),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("view", [0, 1, 2], ids=["words", "chars", "title"])
def test_analyzers_give_sklearns_terms(labelled_rows, view):
    texts, labels = labelled_rows()
    trained = m.TextClassifier.train(texts, labels)
    vectorizer = trained.pipeline.vectorizers_[view]
    ours = trained.compiled().pipeline.views[view]
    analyze = vectorizer.build_analyzer()
    for text in TRICKY + texts[:5]:
        assert ours.analyze(text) == analyze(text)
    features = ours.transform(TRICKY + texts)
    expected = vectorizer.transform(TRICKY + texts).tocoo()
    order = np.lexsort((expected.col, expected.row))
    np.testing.assert_array_equal(features.cols, expected.col[order])
    np.testing.assert_array_equal(features.values, expected.data[order])  # float32, bit for bit


def test_shipped_default_model_is_the_one_the_examples_make():
    shipped = inference.default_model()
    assert shipped.version == inference.default_version(), (
        "default_examples.jsonl changed: run model.export_default_model()")
    fresh = m.train_default()
    assert fresh.labels == shipped.labels
    texts, _labels = m.default_examples()
    # Training is not bit-reproducible from process to process; the decisions are.
    np.testing.assert_allclose(shipped.predict_proba(texts), fresh.predict_proba(texts),
                               atol=1e-3)
    assert ([p.label for p in shipped.predict_many(texts)]
            == [p.label for p in fresh.predict_many(texts)])


def test_saved_file_holds_no_pickle(labelled_rows, tmp_path):
    trained = m.TextClassifier.train(*labelled_rows())
    path = tmp_path / "model.npz"
    trained.save(path)
    with np.load(path, allow_pickle=False) as npz:   # a pickle would refuse to load here
        header = json.loads(npz["header"].tobytes())
    assert header["format"] == inference.FORMAT and header["labels"] == trained.labels
    loaded = inference.load_classifier(path)
    assert (loaded.version, loaded.trained_at) == (trained.version, trained.trained_at)


def test_old_joblib_models_still_load_with_a_warning(labelled_rows, tmp_path, caplog):
    trained = m.TextClassifier.train(*labelled_rows())
    path = tmp_path / "old.joblib"
    joblib.dump({"pipeline": trained.pipeline, **trained.metadata()}, path, compress=3)
    with caplog.at_level(logging.WARNING, logger="ai_categorization_service.inference"):
        loaded = inference.load_classifier(path)
    assert "old joblib format" in caplog.text
    assert isinstance(loaded, inference.CompiledClassifier)
    texts = labelled_rows(per_label=5, seed=4)[0]
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.predict_proba(texts),
                               rtol=0, atol=1e-9)


def test_a_newer_format_version_is_refused(labelled_rows):
    compiled = m.TextClassifier.train(*labelled_rows()).compiled()
    header, arrays = {**compiled._header, "format_version": 99}, compiled._arrays
    with pytest.raises(ValueError, match="format version"):
        inference.build(header, arrays)


SERVING = textwrap.dedent("""
    import sys
    from ai_categorization_service import handlers  # noqa: F401
    from ai_categorization_service.bootstrap import build_categorizer
    from ai_categorization_service.config import Settings

    categorizer = build_categorizer(Settings(anthropic_api_key=None))
    categorizer.warm_up()
    categorizer.prepare([("VPN down", "the vpn fails again")])
    decision = categorizer.categorize("VPN down", "the vpn fails again")
    assert decision.method == "local_model", decision
    print(sorted(m for m in ("sklearn", "scipy", "joblib", "lightgbm") if m in sys.modules))
""")


def test_serving_the_default_model_imports_no_sklearn_or_scipy():
    # A fresh interpreter: this test process has scikit-learn loaded by the other tests.
    env = {**os.environ, "INSECURE_NO_INTERNAL_TOKEN": "1"}
    result = subprocess.run([sys.executable, "-c", SERVING], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
