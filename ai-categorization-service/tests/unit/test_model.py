"""The learned text classifier: training, persistence, evaluation, CSV input, default model."""
import csv
import json
import random

import numpy as np
import pytest

from ai_categorization_service import evaluation as ev
from ai_categorization_service import model as m
from ai_categorization_service import stacking

VOCABULARY = {
    "network": ["vpn", "wifi", "router", "switch", "firewall", "latency", "dns", "cable"],
    "money": ["invoice", "refund", "budget", "payment", "receipt", "tax", "expense", "vendor"],
    "building": ["heating", "lift", "window", "toilet", "carpet", "door", "lights", "desk"],
}
SHARED = ["please", "help", "today", "again", "broken", "urgent", "team", "issue"]


def labelled_set(per_label=30, seed=1):
    """Short texts mixing words of their label with words every label uses."""
    rng = random.Random(seed)
    texts, labels = [], []
    for label, words in VOCABULARY.items():
        for _ in range(per_label):
            title = " ".join(rng.sample(words, 2))
            body = rng.sample(words, 3) + rng.sample(SHARED, 3)
            rng.shuffle(body)
            texts.append(f"{title.title()}\n\n{' '.join(body)}")
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def small_model():
    texts, labels = labelled_set()
    return m.TextClassifier.train(texts, labels, version="test-1")


def test_train_and_predict_give_a_label_and_probabilities(small_model):
    assert small_model.labels == ["building", "money", "network"]
    assert small_model.version == "test-1"
    prediction = small_model.predict("VPN down\n\nthe vpn and the router fail again")
    assert prediction.label == "network"
    assert 0.0 <= prediction.confidence <= 1.0
    assert prediction.confidence == max(prediction.probabilities.values())
    assert set(prediction.probabilities) == set(small_model.labels)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)


def test_predict_many_matches_predict_one_by_one(small_model):
    texts = ["Refund please\n\ninvoice refund", "Heating\n\nheating broken", "dns latency"]
    batch = small_model.predict_many(texts)
    assert [p.label for p in batch] == ["money", "building", "network"]
    for text, prediction in zip(texts, batch):
        one = small_model.predict(text)
        assert one.label == prediction.label
        assert one.confidence == pytest.approx(prediction.confidence)
    assert small_model.predict_many([]) == []


def test_training_rejects_unusable_input():
    with pytest.raises(ValueError):
        m.TextClassifier.train(["a", "b"], ["x"])
    with pytest.raises(ValueError):
        m.TextClassifier.train(["vpn down", "vpn slow", "invoice"], ["it", "it", "finance"])


def test_save_and_load_round_trip(small_model, tmp_path):
    path = tmp_path / "models" / "model.joblib"
    small_model.save(path)
    loaded = m.TextClassifier.load(str(path))
    texts, _ = labelled_set(per_label=5, seed=7)
    before = small_model.predict_many(texts)
    after = loaded.predict_many(texts)
    assert [p.label for p in after] == [p.label for p in before]
    assert [p.probabilities for p in after] == [p.probabilities for p in before]
    assert loaded.version == "test-1"
    assert loaded.labels == small_model.labels
    assert loaded.trained_at == small_model.trained_at
    sidecar = json.loads((tmp_path / "models" / "model.joblib.json").read_text())
    assert sidecar["version"] == "test-1"
    assert sidecar["labels"] == small_model.labels
    assert sidecar["trained_at"] and sidecar["sklearn_version"]


def test_metrics_are_kept_through_save_and_load(small_model, tmp_path):
    with_metrics = m.TextClassifier(small_model.pipeline, small_model.labels, "test-2",
                                    metrics={"accuracy": 0.9})
    with_metrics.save(tmp_path / "model.joblib")
    assert m.TextClassifier.load(tmp_path / "model.joblib").metrics == {"accuracy": 0.9}


@pytest.mark.parametrize("content", [b"", b"not a model at all\n", bytes(range(7, 107))])
def test_load_rejects_a_file_that_is_not_a_model(tmp_path, content):
    path = tmp_path / "other.joblib"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        m.TextClassifier.load(path)


def test_load_rejects_a_joblib_file_of_something_else(tmp_path):
    path = tmp_path / "other.joblib"
    m.joblib.dump(["not", "a", "model"], path)
    with pytest.raises(ValueError):
        m.TextClassifier.load(path)


def test_load_of_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        m.TextClassifier.load(tmp_path / "missing.joblib")


def test_cross_validate_returns_sane_metrics():
    texts, labels = labelled_set(per_label=20)
    report = ev.cross_validate(texts, labels, folds=3)
    assert 0.0 <= report.accuracy <= 1.0 and report.accuracy > 0.8
    assert 0.0 <= report.macro_f1 <= 1.0
    assert set(report.per_class) == set(VOCABULARY)
    assert sum(row["support"] for row in report.per_class.values()) == len(texts)
    assert 0.0 <= report.coverage_at_95_precision <= 1.0
    assert report.folds == 3 and report.n_samples == len(texts)
    assert len(report.fold_accuracy) == 3
    table = report.format_table()
    assert "accuracy" in table and "network" in table
    assert json.loads(json.dumps(report.to_dict()))["n_samples"] == len(texts)


def test_cross_validate_needs_enough_examples_per_label():
    with pytest.raises(ValueError):
        ev.cross_validate(["a b", "c d", "e f", "g h"], ["x", "x", "y", "y"], folds=3)


def test_evaluate_on_held_out_texts(small_model):
    texts, labels = labelled_set(per_label=10, seed=5)
    report = ev.evaluate(small_model, texts, labels)
    assert report.accuracy > 0.8
    assert report.n_samples == 30 and report.folds == 0


@pytest.mark.parametrize("confidences, correct, expected", [
    # precision of the top 4 is 4/4, of the top 5 is 4/5: four are routable
    ([0.99, 0.95, 0.9, 0.8, 0.7, 0.6], [1, 1, 1, 1, 0, 1], (4 / 6, 0.8)),
    # every prediction right: everything is routable at the lowest confidence
    ([0.3, 0.9, 0.6], [1, 1, 1], (1.0, 0.3)),
    # the most confident prediction is wrong and no prefix recovers 95%
    ([0.9, 0.8, 0.7], [0, 1, 1], (0.0, None)),
    # 19 right then 1 wrong is exactly 95%
    ([1.0 - i / 100 for i in range(20)], [1] * 19 + [0], (1.0, 0.81)),
    # ties at 0.5 are routed together, and together they fall below 95%
    ([0.9, 0.5, 0.5], [1, 1, 0], (1 / 3, 0.9)),
    ([], [], (0.0, None)),
])
def test_coverage_at_precision_known_answers(confidences, correct, expected):
    coverage, threshold = ev.coverage_at_precision(confidences, correct)
    assert coverage == pytest.approx(expected[0])
    if expected[1] is None:
        assert threshold is None
    else:
        assert threshold == pytest.approx(expected[1])


def test_coverage_at_precision_other_targets():
    assert ev.coverage_at_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1], target=0.75) == (1.0, 0.6)
    assert ev.coverage_at_precision([0.9, 0.8], [1, 0], target=1.0) == (0.5, 0.9)


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_read_labelled_csv_skips_empty_rows(tmp_path):
    path = tmp_path / "tickets.csv"
    write_csv(path, ["Document", "Topic_group", "extra"], [
        ["vpn down, again", "Access", "1"],
        ["", "Hardware", "2"],
        ["printer jam", "", "3"],
        ["   ", "   ", "4"],
        ["new laptop\nplease", "Hardware", "5"],
    ])
    texts, labels = m.read_labelled_csv(path, "Document", "Topic_group")
    assert texts == ["vpn down, again", "new laptop\nplease"]
    assert labels == ["Access", "Hardware"]


def test_read_labelled_csv_missing_column_is_a_value_error(tmp_path):
    path = tmp_path / "tickets.csv"
    write_csv(path, ["text", "label"], [["vpn down", "Access"]])
    with pytest.raises(ValueError, match="Topic_group"):
        m.read_labelled_csv(path, "text", "Topic_group")


def test_default_examples_cover_every_department_richly():
    texts, labels = m.default_examples()
    counts = {label: labels.count(label) for label in set(labels)}
    assert set(counts) == {"IT Support", "HR", "Facilities", "Finance", "General"}
    assert all(60 <= n <= 100 for n in counts.values()), counts
    assert len(set(texts)) == len(texts)
    assert all("\n\n" in text for text in texts)


@pytest.fixture(scope="module")
def default():
    return m.default_model()


def test_default_model_is_versioned_by_its_examples_and_cached(default):
    assert default.version.startswith("default-")
    assert m.default_model() is default
    assert default.labels == ["Facilities", "Finance", "General", "HR", "IT Support"]


@pytest.mark.parametrize("title, description, department", [
    ("Password reset", "I forgot my password and my account is locked, please reset it.",
     "IT Support"),
    ("Cannot log in", "My login password expired over the weekend, how do I set a new one?",
     "IT Support"),
    ("Annual leave question", "How many days of annual leave do I have left this year, and "
     "can I carry some over?", "HR"),
    ("Maternity leave", "I'm pregnant and want to know how to apply for maternity leave.", "HR"),
    ("Air conditioning broken", "The air conditioning in our office is broken and it is "
     "unbearably hot.", "Facilities"),
    ("Expense claim not paid", "My travel expense claim was approved a month ago but I have "
     "not been reimbursed.", "Finance"),
])
def test_default_model_routes_obvious_tickets(default, title, description, department):
    prediction = default.predict(f"{title}\n\n{description}")
    assert prediction.label == department, prediction
    assert prediction.confidence > 0.5


def test_models_pickled_before_the_split_still_load():
    """Saved models name the estimator and the title preprocessor by their old module."""
    assert m.StackedLinearClassifier is stacking.StackedLinearClassifier
    assert m.title_words is stacking.title_words
