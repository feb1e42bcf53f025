"""``ticketctl model ...`` in-process against a migrated AI service schema (real PostgreSQL)."""
import csv
import json
import random
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ai_categorization_service.config import Settings as AiSettings
from support_shared.db import migrate
from support_shared.service import engine_for
from ticketctl.cli import cli

pytestmark = pytest.mark.integration

VOCABULARY = {
    "Network": ["vpn", "wifi", "router", "switch", "firewall", "latency", "dns", "cable"],
    "Money": ["invoice", "refund", "budget", "payment", "receipt", "tax", "expense", "vendor"],
    "Building": ["heating", "lift", "window", "toilet", "carpet", "door", "lights", "desk"],
}
SHARED = ["please", "help", "today", "again", "broken", "urgent", "team", "issue"]
# Tickets agents rerouted: words the shipped examples hardly use, so the retrained model has
# something to learn from them.
CORRECTIONS = {
    "Facilities": ["elevator stuck between floors", "escalator squeaks", "elevator door jams",
                   "escalator stopped", "elevator button dead", "escalator handrail torn"],
    "Finance": ["per diem for the offsite", "per diem rate for Lyon", "per diem not paid",
                "per diem form rejected", "per diem for two days", "per diem currency wrong"],
}


def write_csv(path, per_label=20, seed=1):
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Document", "Topic_group"])
        for label, words in VOCABULARY.items():
            for _ in range(per_label):
                body = rng.sample(words, 3) + rng.sample(SHARED, 3)
                rng.shuffle(body)
                writer.writerow([" ".join(body), label])
    return str(path)


@pytest.fixture
def ai_engine(make_settings):
    settings = make_settings(AiSettings, schema="ctlai", anthropic_api_key=None)
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "ai_categorization_service")
    yield engine, settings
    engine.dispose()


@pytest.fixture
def model_ctl(ai_engine):
    _, settings = ai_engine
    env = {"AI_SERVICE_DATABASE_URL": settings.database_url,
           "AI_SERVICE_DB_SCHEMA": settings.db_schema}

    def run(*args: str, env_: dict | None = None):
        return CliRunner().invoke(cli, ["model", *args], env={**env, **(env_ or {})})

    return run


def csv_args(path):
    return ["--csv", path, "--text-column", "Document", "--label-column", "Topic_group"]


def test_train_list_activate_and_evaluate(model_ctl, tmp_path):
    train_csv = write_csv(tmp_path / "train.csv", seed=1)
    result = model_ctl("train", *csv_args(train_csv), "--folds", "3")
    assert result.exit_code == 0, result.output
    assert "trained on 60 rows, 3 labels: Building, Money, Network" in result.stdout
    assert "samples: 60  folds: 3" in result.stdout and "macro-F1" in result.stdout
    assert "model v" in result.stdout and "stored, not active" in result.stdout

    listed = model_ctl("list")
    assert listed.exit_code == 0, listed.output
    header, row = listed.stdout.splitlines()[:2]
    assert header.split()[:3] == ["VERSION", "ACTIVE", "SOURCE"]
    version = row.split()[0]
    assert row.split()[1:3] == ["-", "csv"]                     # not active
    assert "no version is active" in listed.stdout

    assert model_ctl("activate", version).exit_code == 0
    [stored] = json.loads(model_ctl("list", "--json").stdout)
    assert stored["version"] == version and stored["active"] is True
    assert stored["labels"] == ["Building", "Money", "Network"]
    assert stored["training_rows"] == 60 and stored["metrics"]["folds"] == 3
    assert 0.5 < stored["metrics"]["accuracy"] <= 1.0

    holdout = write_csv(tmp_path / "holdout.csv", per_label=10, seed=7)
    evaluated = model_ctl("evaluate", *csv_args(holdout), "--version", version)
    assert evaluated.exit_code == 0, evaluated.output
    assert f"model {version} on holdout.csv (held out)" in evaluated.stdout
    for expected in ("accuracy:", "macro-F1:", "coverage at 95% precision:", "Network",
                     "samples: 30  folds: 0"):
        assert expected in evaluated.stdout
    same = json.loads(model_ctl("evaluate", *csv_args(holdout), "--version", "active",
                                "--json").stdout)
    assert same["subject"].startswith(f"model {version} ") and same["n_samples"] == 30

    folds = json.loads(model_ctl("evaluate", *csv_args(train_csv), "--folds", "4",
                                 "--json").stdout)
    assert folds["folds"] == 4 and len(folds["fold_accuracy"]) == 4
    assert set(folds["per_class"]) == {"Building", "Money", "Network"}

    again = model_ctl("train", *csv_args(train_csv), "--folds", "0", "--activate")
    assert again.exit_code == 0, again.output
    assert "is active" in again.stdout and "folds" not in again.stdout
    assert [v["active"] for v in json.loads(model_ctl("list", "--json").stdout)] == [False, True]


def add_corrections(engine):
    rows = [{"tenant_id": "acme", "ticket_id": 1000 + i, "text": f"{text}\n\n{text}, please help",
             "department": department, "source": "reroute", "routing_version": 2,
             "event_id": uuid.uuid4()}
            for i, (department, text) in enumerate(
                (d, t) for d, texts in CORRECTIONS.items() for t in texts)]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO training_examples"
            " (tenant_id, ticket_id, text, department, source, routing_version, event_id)"
            " VALUES (:tenant_id, :ticket_id, :text, :department, :source, :routing_version,"
            " :event_id)"), rows)
    return len(rows)


def test_retrain_prints_before_and_after_and_activates(model_ctl, ai_engine):
    engine, _ = ai_engine
    nothing = model_ctl("retrain")
    assert nothing.exit_code == 1 and "no corrections stored yet" in nothing.stderr

    n = add_corrections(engine)
    result = model_ctl("retrain", "--folds", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"shipped examples + {n} corrected tickets" in out
    assert f"evaluated on: {n} rows default-" in out
    before, after = out.index("before: default-"), out.index("after: v")
    assert before < after
    assert out.count(f"samples: {n}") == 2                  # both on the same rows
    assert "accuracy " in out and " -> " in out and "macro-F1 " in out
    assert "is active" in out
    [version] = json.loads(model_ctl("list", "--json").stdout)
    assert version["source"] == "retrain" and version["active"]
    assert version["metrics"]["baseline"]["version"].startswith("default-")
    assert version["metrics"]["corrections"] == n

    again = model_ctl("retrain")
    assert again.exit_code == 1
    assert f"no corrections since model {version['version']} was trained" in again.stderr

    kept = model_ctl("retrain", "--no-activate")   # still nothing new: refused, nothing stored
    assert kept.exit_code == 1 and len(json.loads(model_ctl("list", "--json").stdout)) == 1


def test_refusals_and_errors(model_ctl, tmp_path):
    train_csv = write_csv(tmp_path / "train.csv")
    missing = model_ctl("activate", "v404")
    assert missing.exit_code == 1 and "no stored model version 'v404'" in missing.stderr
    both = model_ctl("evaluate", *csv_args(train_csv), "--folds", "3", "--version", "v1")
    assert both.exit_code == 2 and "not both" in both.stderr
    column = model_ctl("train", "--csv", train_csv, "--text-column", "Text",
                       "--label-column", "Topic_group")
    assert column.exit_code == 1 and "no column(s) ['Text']" in column.stderr
    assert "Traceback" not in column.output
    down = model_ctl("list", env_={
        "AI_SERVICE_DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere"})
    assert down.exit_code == 2 and "database unavailable" in down.stderr
    assert model_ctl("deactivate").stdout.strip() == "no version was active"


def test_scheduled_retrain_waits_for_enough_corrections(model_ctl, ai_engine, monkeypatch):
    engine, _ = ai_engine
    monkeypatch.setattr("ai_categorization_service.model_cli.time.sleep", lambda s: None)
    n = add_corrections(engine)
    waiting = model_ctl("retrain", "--min-corrections", str(n + 1))
    assert waiting.exit_code == 1 and f"{n} corrections since" in waiting.stderr
    assert f"waiting for {n + 1}" in waiting.stderr

    rounds = model_ctl("retrain", "--folds", "3", "--every", "1h", "--max-rounds", "2")
    assert rounds.exit_code == 0, rounds.output
    assert "retrain round 1" in rounds.stdout and "is active" in rounds.stdout
    assert "round 2: no corrections since model v" in rounds.stderr   # nothing new: skipped
    assert len(json.loads(model_ctl("list", "--json").stdout)) == 1


def test_only_if_better_keeps_the_active_model_when_the_new_one_scores_lower(
        model_ctl, ai_engine, monkeypatch):
    from dataclasses import replace

    from ai_categorization_service import modelops

    engine, _ = ai_engine
    add_corrections(engine)
    real = modelops.held_out_report

    def worse(*args, **kwargs):   # the recipe's figures, made to lose to the active model
        return replace(real(*args, **kwargs), accuracy=0.0)

    monkeypatch.setattr(modelops, "held_out_report", worse)
    result = model_ctl("retrain", "--folds", "3", "--only-if-better")
    assert result.exit_code == 0, result.output
    assert "not activated: its accuracy 0.0000 is below the active model's" in result.stdout
    [stored] = json.loads(model_ctl("list", "--json").stdout)
    assert stored["source"] == "retrain" and stored["active"] is False


def test_train_without_boosters_stores_the_linear_stack(model_ctl, ai_engine, tmp_path,
                                                         monkeypatch):
    from ai_categorization_service import boosted
    from ai_categorization_service import model as ai_model
    from ai_categorization_service.registry import ModelRegistry

    engine, _ = ai_engine
    monkeypatch.setattr(ai_model, "BOOSTING_MIN_SAMPLES", 30)       # the 60-row file is "large"
    monkeypatch.setattr(boosted, "LGBM_PARAMS", {**boosted.LGBM_PARAMS, "n_estimators": 10,
                                                 "min_child_samples": 5})
    train_csv = write_csv(tmp_path / "train.csv")
    for flag in ("--boosters", "--no-boosters"):
        result = model_ctl("train", *csv_args(train_csv), "--folds", "0", flag)
        assert result.exit_code == 0, result.output
    with_boosters, linear = (ModelRegistry(engine).load(v["version"]) for v in
                             json.loads(model_ctl("list", "--json").stdout))
    assert with_boosters.pipeline.boosters is not None
    assert linear.pipeline.boosters is None


def test_train_maps_labels_to_departments_and_warns_about_the_rest(model_ctl, tmp_path):
    train_csv = write_csv(tmp_path / "train.csv", seed=3)
    result = model_ctl("train", *csv_args(train_csv), "--folds", "0",
                       "--map", "Network=IT Support", "--map", "Money = Finance")
    assert result.exit_code == 0, result.output
    assert "3 labels: Building, Finance, IT Support" in result.stdout
    assert ("warning: labels with no department of tenant default (their tickets go to triage "
            "for review; map them with --map LABEL=DEPARTMENT): Building") in result.stderr
    [stored] = json.loads(model_ctl("list", "--json").stdout)
    assert stored["labels"] == ["Building", "Finance", "IT Support"]

    refused = model_ctl("train", *csv_args(train_csv), "--map", "Nope=HR")
    assert refused.exit_code == 1 and "labels the file does not have: Nope" in refused.output
    assert model_ctl("train", *csv_args(train_csv), "--map", "Network").exit_code == 2
