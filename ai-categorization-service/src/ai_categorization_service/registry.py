"""Stored model versions: save a trained classifier, list, activate one, load the active one.

Versions are rows of ``model_versions`` in the service's schema, named ``v<id>``; the name is
what ``ticket.categorized`` carries as ``model_version``. At most one row is active (a
partial unique index); consumers and web workers switch to it by themselves
(``active_model.ActiveModel``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine

from support_shared.commands import CommandError

if TYPE_CHECKING:
    from .inference import CompiledClassifier
    from .model import TextClassifier

logger = logging.getLogger(__name__)

Source = Literal["default", "csv", "retrain"]

metadata = sa.MetaData()

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("version", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("labels", pg.JSONB, nullable=False),
    sa.Column("metrics", pg.JSONB),
    sa.Column("training_rows", sa.Integer, nullable=False),
    sa.Column("artifact", sa.LargeBinary, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
)

_t = model_versions
# Everything but the artifact: listing versions must not read megabytes per row.
_INFO_COLUMNS = (_t.c.id, _t.c.version, _t.c.created_at, _t.c.source, _t.c.labels, _t.c.metrics,
                 _t.c.training_rows, _t.c.active,
                 sa.func.octet_length(_t.c.artifact).label("artifact_bytes"))


class VersionNotFoundError(CommandError, LookupError):
    def __init__(self, version: str) -> None:
        super().__init__(f"no stored model version {version!r}")
        self.version = version


class ArtifactError(ValueError):
    """A stored artifact that does not load as a TextClassifier."""


@dataclass(frozen=True)
class ModelVersion:
    id: int
    version: str
    created_at: datetime
    source: str
    labels: list[str]
    metrics: dict[str, Any] | None
    training_rows: int
    active: bool
    artifact_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "created_at": self.created_at.isoformat(),
                "source": self.source, "labels": self.labels, "metrics": self.metrics,
                "training_rows": self.training_rows, "active": self.active,
                "artifact_bytes": self.artifact_bytes}


def dump_artifact(classifier: "TextClassifier | CompiledClassifier") -> bytes:
    """The classifier in the stored format (``inference``: NumPy arrays in an ``.npz``)."""
    return classifier.to_bytes()


def load_artifact(data: bytes, version: str,
                  metrics: dict[str, Any] | None = None) -> "CompiledClassifier":
    """A classifier from ``dump_artifact`` bytes, named ``version`` (the stored name).

    It predicts with NumPy. An artifact stored before that format (a joblib pickle, which
    only this registry ever wrote) is loaded with scikit-learn and a warning
    (``upgrade_artifacts`` rewrites those rows).
    """
    from .inference import load_classifier_bytes  # NumPy: imported when a model is loaded

    try:
        classifier = load_classifier_bytes(data, f"model {version}")
    except ValueError as exc:
        raise ArtifactError(f"model {version}: artifact does not load: {exc}") from exc
    return classifier.renamed(version, metrics)


def _info(row: Any) -> ModelVersion:
    return ModelVersion(row.id, row.version, row.created_at, row.source, list(row.labels),
                        row.metrics, row.training_rows, row.active, row.artifact_bytes or 0)


class ModelRegistry:
    """The ``model_versions`` table of one service schema (``engine`` is bound to it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save(self, classifier: "TextClassifier | CompiledClassifier", *, source: Source,
             training_rows: int, metrics: dict[str, Any] | None = None,
             activate: bool = False) -> ModelVersion:
        """Store ``classifier`` as a new version ``v<id>`` (and make it the active one)."""
        artifact = dump_artifact(classifier)
        with self.engine.begin() as conn:
            new_id = conn.scalar(sa.text(
                "SELECT nextval(pg_get_serial_sequence('model_versions', 'id'))"))
            version = f"v{new_id}"
            if activate:
                self._deactivate_all(conn)
            conn.execute(model_versions.insert().values(
                id=new_id, version=version, source=source, labels=classifier.labels,
                metrics=metrics, training_rows=training_rows, artifact=artifact,
                active=activate))
            saved = self._get(conn, version)
        logger.info("stored model %s (%s, %d rows, %d bytes)%s", version, source, training_rows,
                    len(artifact), "; now active" if activate else "")
        return saved

    def versions(self) -> list[ModelVersion]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*_INFO_COLUMNS).order_by(_t.c.id)).all()
        return [_info(r) for r in rows]

    def get(self, version: str) -> ModelVersion:
        with self.engine.connect() as conn:
            return self._get(conn, version)

    def active(self) -> ModelVersion | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(*_INFO_COLUMNS).where(_t.c.active)).first()
        return None if row is None else _info(row)

    def active_id(self) -> int | None:
        """Id of the active version: the cheap question asked every refresh interval."""
        with self.engine.connect() as conn:
            return conn.scalar(sa.select(_t.c.id).where(_t.c.active))

    def activate(self, version: str) -> ModelVersion:
        """Make ``version`` the only active one; the services switch within their refresh."""
        with self.engine.begin() as conn:
            self._get(conn, version)  # unknown name: nothing changes
            self._deactivate_all(conn)
            conn.execute(sa.update(_t).where(_t.c.version == version).values(active=True))
            activated = self._get(conn, version)
        logger.info("model %s activated", version)
        return activated

    def deactivate(self) -> ModelVersion | None:
        """No active version any more: the services go back to the shipped default model."""
        with self.engine.begin() as conn:
            previous = conn.execute(sa.select(*_INFO_COLUMNS).where(_t.c.active)).first()
            self._deactivate_all(conn)
        return None if previous is None else _info(previous)

    def load(self, version: str) -> "CompiledClassifier":
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_t.c.version, _t.c.metrics, _t.c.artifact).where(_t.c.version == version)
            ).first()
        if row is None:
            raise VersionNotFoundError(version)
        return load_artifact(row.artifact, row.version, row.metrics)

    def load_by_id(self, version_id: int) -> "CompiledClassifier | None":
        """The version with this id, or None if it was deleted meanwhile."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_t.c.version, _t.c.metrics, _t.c.artifact).where(_t.c.id == version_id)
            ).first()
        return None if row is None else load_artifact(row.artifact, row.version, row.metrics)

    def load_active(self) -> "CompiledClassifier | None":
        version_id = self.active_id()
        return None if version_id is None else self.load_by_id(version_id)

    def upgrade_artifacts(self) -> list[str]:
        """Rewrite every artifact stored in the old joblib format in the NumPy one (this
        process loads scikit-learn to read them); the versions rewritten, oldest first."""
        from .inference import is_numpy_format

        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_t.c.id, _t.c.version, _t.c.artifact)
                                .order_by(_t.c.id)).all()
        upgraded = []
        for row in rows:
            if is_numpy_format(row.artifact):
                continue
            artifact = load_artifact(row.artifact, row.version).to_bytes()
            with self.engine.begin() as conn:
                conn.execute(sa.update(_t).where(_t.c.id == row.id).values(artifact=artifact))
            logger.info("model %s stored in the NumPy format (%d bytes, was %d)", row.version,
                        len(artifact), len(row.artifact))
            upgraded.append(row.version)
        return upgraded

    @staticmethod
    def _get(conn: Connection, version: str) -> ModelVersion:
        row = conn.execute(sa.select(*_INFO_COLUMNS).where(_t.c.version == version)).first()
        if row is None:
            raise VersionNotFoundError(version)
        return _info(row)

    @staticmethod
    def _deactivate_all(conn: Connection) -> None:
        # Serializes activations: two at once would both clear the old row, then the second
        # would break the one-active index instead of winning. Readers are not blocked.
        conn.execute(sa.text("LOCK TABLE model_versions IN EXCLUSIVE MODE"))
        conn.execute(sa.update(_t).where(_t.c.active).values(active=False))
