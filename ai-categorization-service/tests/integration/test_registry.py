"""Stored model versions on the real PostgreSQL: save, list, activate, load; the hot switch."""
import io

import joblib
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ai_categorization_service.bootstrap import build_categorizer
from ai_categorization_service.registry import ArtifactError, ModelRegistry, VersionNotFoundError
from support_shared.db import migrate
from support_shared.testing.helpers import wait_until

pytestmark = pytest.mark.integration

TEXT = ("Router down", "the vpn and the wifi router fail again, dns latency")


def test_migration_adds_the_model_tables_and_is_repeatable(engine, settings):
    migrate(engine, settings.db_schema, "ai_categorization_service")
    tables = set(sa.inspect(engine).get_table_names(schema=settings.db_schema))
    assert {"model_versions", "training_examples", "ticket_texts"} <= tables
    indexes = {i["name"]: i for i in sa.inspect(engine).get_indexes(
        "model_versions", schema=settings.db_schema)}
    assert indexes["model_versions_one_active"]["unique"]


def test_save_list_activate_load(engine, tiny_models):
    registry = ModelRegistry(engine)
    assert registry.versions() == [] and registry.active() is None
    assert registry.load_active() is None
    first = registry.save(tiny_models[0], source="csv", training_rows=60,
                          metrics={"accuracy": 0.9, "macro_f1": 0.88})
    second = registry.save(tiny_models[1], source="retrain", training_rows=60, activate=True)
    assert (first.version, second.version) == (f"v{first.id}", f"v{second.id}")
    assert first.labels == ["Building", "Money", "Network"] and first.artifact_bytes > 1000
    listed = registry.versions()
    assert [(v.version, v.source, v.active) for v in listed] == [
        (first.version, "csv", False), (second.version, "retrain", True)]
    assert listed[0].metrics == {"accuracy": 0.9, "macro_f1": 0.88}

    loaded = registry.load(first.version)
    assert loaded.version == first.version            # the stored name, not the training one
    assert loaded.labels == tiny_models[0].labels
    assert loaded.metrics == {"accuracy": 0.9, "macro_f1": 0.88}
    assert loaded.predict("\n\n".join(TEXT)).label == "Network"
    assert registry.load_active().version == second.version

    registry.activate(first.version)
    assert [v.active for v in registry.versions()] == [True, False]
    assert registry.active().version == first.version
    assert registry.deactivate().version == first.version
    assert registry.active() is None and registry.deactivate() is None
    with pytest.raises(VersionNotFoundError):
        registry.activate("v999")


def test_at_most_one_version_is_active(engine, tiny_models):
    registry = ModelRegistry(engine)
    one = registry.save(tiny_models[0], source="csv", training_rows=60, activate=True)
    two = registry.save(tiny_models[1], source="csv", training_rows=60)
    with pytest.raises(IntegrityError), engine.begin() as conn:   # past the registry
        conn.execute(sa.text("UPDATE model_versions SET active = true WHERE id = :id"),
                     {"id": two.id})
    assert registry.active().version == one.version


def test_a_broken_artifact_is_refused(engine, tiny_models):
    registry = ModelRegistry(engine)
    saved = registry.save(tiny_models[0], source="csv", training_rows=60)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE model_versions SET artifact = 'not a model'::bytea"))
    with pytest.raises(ArtifactError):
        registry.load(saved.version)


def test_categorizer_switches_to_a_newly_activated_version_without_restart(
        settings, engine, tiny_models):
    categorizer = build_categorizer(settings.model_copy(update={"model_refresh_s": 0.1}),
                                    engine=engine)
    decision = categorizer.categorize(*TEXT)
    assert decision.method == "local_model"
    assert decision.model_version.startswith("default-")      # nothing stored: shipped default
    registry = ModelRegistry(engine)
    first = registry.save(tiny_models[0], source="csv", training_rows=60, activate=True)
    wait_until(lambda: categorizer.categorize(*TEXT).model_version == first.version,
               timeout=10, message=f"switch to {first.version}")
    decision = categorizer.categorize(*TEXT)
    assert (decision.department, decision.method) == ("Network", "local_model")  # its labels

    second = registry.save(tiny_models[1], source="retrain", training_rows=60)
    registry.activate(second.version)
    wait_until(lambda: categorizer.categorize(*TEXT).model_version == second.version,
               timeout=10, message=f"switch to {second.version}")
    registry.deactivate()
    wait_until(lambda: categorizer.categorize(*TEXT).model_version.startswith("default-"),
               timeout=10, message="back to the shipped default")


def test_old_format_artifacts_load_and_are_upgraded(engine, tiny_models):
    registry = ModelRegistry(engine)
    saved = registry.save(tiny_models[0], source="csv", training_rows=60)
    buffer = io.BytesIO()
    joblib.dump({"pipeline": tiny_models[0].pipeline, **tiny_models[0].metadata()}, buffer,
                compress=3)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE model_versions SET artifact = :a"), {"a": buffer.getvalue()})
    assert registry.load(saved.version).predict("\n\n".join(TEXT)).label == "Network"
    assert registry.upgrade_artifacts() == [saved.version]
    assert registry.upgrade_artifacts() == []
    with engine.connect() as conn:
        artifact = conn.scalar(sa.text("SELECT artifact FROM model_versions"))
    assert bytes(artifact[:4]) == b"PK\x03\x04"
    assert registry.load(saved.version).predict("\n\n".join(TEXT)).label == "Network"
