"""The hot switch: the model a running process uses follows the registry's active version.

Every ``refresh_s`` seconds at most (on use), ``ActiveModel.current()`` asks the database
which version is active. When that changed, the new version is loaded and swapped in with one
reference assignment, so a categorization in flight keeps the model it started with and the
next one gets the new model. Without an active version the fallback (the shipped default
model, or ``AI_SERVICE_MODEL_PATH``) is used, as before versions existed.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from .local_model import Classifier
from .registry import ArtifactError, ModelRegistry

logger = logging.getLogger(__name__)

# The registry could not be asked (database down, pool exhausted, table not migrated yet).
REGISTRY_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeoutError)


@dataclass(frozen=True)
class _Loaded:
    version_id: int | None  # None: the fallback model
    model: Classifier


class ActiveModel:
    """Gives the active stored version, else the fallback; re-checks every ``refresh_s``."""

    def __init__(self, registry: ModelRegistry, fallback: Callable[[], Classifier], *,
                 refresh_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.fallback = fallback
        self.refresh_s = refresh_s
        self._clock = clock
        self._loaded: _Loaded | None = None
        self._checked_at = -math.inf
        self._failed_id: int | None = None  # a version whose artifact did not load
        self._lock = threading.Lock()

    @property
    def version_id(self) -> int | None:
        """Id of the stored version in use (None: the fallback, or nothing loaded yet)."""
        loaded = self._loaded
        return None if loaded is None else loaded.version_id

    def current(self) -> Classifier:
        """The model to use now. The first call waits for a model; later ones never wait for
        another thread's refresh: they keep the model in use until the new one is swapped in."""
        loaded = self._loaded
        if loaded is None or self._clock() - self._checked_at >= self.refresh_s:
            if self._lock.acquire(blocking=loaded is None):
                try:
                    self._refresh()
                finally:
                    self._lock.release()
        loaded = self._loaded
        assert loaded is not None  # _refresh sets it or raises
        return loaded.model

    def _refresh(self) -> None:
        now = self._clock()
        if self._loaded is not None and now - self._checked_at < self.refresh_s:
            return  # another thread refreshed while this one waited for the lock
        self._checked_at = now
        try:
            active_id = self.registry.active_id()
        except REGISTRY_ERRORS as exc:
            logger.warning("cannot read the active model version (%s); keeping the model in use",
                           type(exc).__name__)
            self._keep_or_fall_back()
            return
        if self._loaded is not None and active_id == self._loaded.version_id:
            return
        if active_id is None:
            self._swap(_Loaded(None, self.fallback()))
            return
        if active_id == self._failed_id:  # logged once already
            self._keep_or_fall_back()
            return
        try:
            model = self.registry.load_by_id(active_id)
        except (ArtifactError, *REGISTRY_ERRORS):
            logger.exception("model version id %s does not load; keeping the model in use",
                             active_id)
            self._failed_id = active_id
            self._keep_or_fall_back()
            return
        if model is None:  # deleted between the two queries: look again on the next call
            self._checked_at = -math.inf
            self._keep_or_fall_back()
            return
        self._swap(_Loaded(active_id, model))

    def _keep_or_fall_back(self) -> None:
        if self._loaded is None:
            self._swap(_Loaded(None, self.fallback()))

    def _swap(self, loaded: _Loaded) -> None:
        previous = self._loaded
        self._loaded = loaded  # one assignment: readers see the old model or the new one
        logger.info("local model %s in use (was %s)", loaded.model.version,
                    previous.model.version if previous else "none")
