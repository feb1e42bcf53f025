"""Wiring: the categorizer chain a process uses (Claude if configured, local model, keywords)."""
from __future__ import annotations

import functools
import logging

from sqlalchemy.engine import Engine

from .active_model import ActiveModel
from .categorizer import Categorizer, ChainCategorizer
from .config import Settings
from .departments import DepartmentSource, StaticDepartments
from .keywords import KeywordCategorizer, TenantKeywordCategorizer
from .local_model import Classifier, LocalModelCategorizer
from .registry import ModelRegistry

logger = logging.getLogger(__name__)


@functools.cache
def load_model(path: str | None) -> Classifier:
    """The saved model at ``path``, else the shipped default; loaded once per process.

    Either predicts with NumPy alone (``inference``): serving imports no scikit-learn.
    """
    from . import inference  # NumPy too is imported on first use, not when the app starts

    if path:
        logger.info("loading local model from %s", path)
        return inference.load_classifier(path)
    return inference.default_model()


def build_categorizer(settings: Settings, departments: DepartmentSource | None = None, *,
                      engine: Engine | None = None) -> ChainCategorizer:
    """Claude (only with ``ANTHROPIC_API_KEY``) -> the tenant's own department keywords ->
    local model -> keyword rules.

    Given the service's ``engine``, the local model is the registry's active version, followed
    as it changes (every ``model_refresh_s``); its labels are the departments it may choose.
    Without an active version (or without ``engine``) it is the model of ``load_model``.
    """
    departments = departments or StaticDepartments()
    chain: list[Categorizer] = []
    if settings.anthropic_api_key is not None and settings.anthropic_api_key.get_secret_value():
        # The SDK costs about 50 MB per process: imported only where a key makes it useful.
        from .claude import ClaudeCategorizer

        chain.append(ClaudeCategorizer.from_settings(settings, departments))
    chain.append(TenantKeywordCategorizer())
    if engine is None:
        chain.append(LocalModelCategorizer(loader=lambda: load_model(settings.model_path),
                                           departments=departments))
    else:
        active = ActiveModel(ModelRegistry(engine), lambda: load_model(settings.model_path),
                             refresh_s=settings.model_refresh_s)
        chain.append(LocalModelCategorizer(source=active, departments=departments,
                                           labels_are_departments=True))
    chain.append(KeywordCategorizer())
    categorizer = ChainCategorizer(chain)
    logger.info("categorizer chain: %s", " -> ".join(categorizer.methods))
    return categorizer
