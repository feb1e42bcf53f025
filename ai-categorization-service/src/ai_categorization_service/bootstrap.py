"""Wiring: the categorizer chain a process uses (Claude if configured, local model, keywords)."""
from __future__ import annotations

import functools
import logging

from .categorizer import Categorizer, ChainCategorizer
from .claude import ClaudeCategorizer
from .config import Settings
from .departments import DepartmentSource, StaticDepartments
from .keywords import KeywordCategorizer
from .local_model import Classifier, LocalModelCategorizer

logger = logging.getLogger(__name__)


@functools.cache
def load_model(path: str | None) -> Classifier:
    """The saved model at ``path``, else the shipped default; loaded once per process."""
    from . import model  # scikit-learn is imported on first use, not when the app starts

    if path:
        logger.info("loading local model from %s", path)
        return model.TextClassifier.load(path)
    return model.default_model()


def build_categorizer(settings: Settings,
                      departments: DepartmentSource | None = None) -> ChainCategorizer:
    """Claude (only with ``ANTHROPIC_API_KEY``) -> local model -> keyword rules."""
    departments = departments or StaticDepartments()
    chain: list[Categorizer] = []
    if settings.anthropic_api_key is not None and settings.anthropic_api_key.get_secret_value():
        chain.append(ClaudeCategorizer.from_settings(settings, departments))
    chain.append(LocalModelCategorizer(loader=lambda: load_model(settings.model_path),
                                       departments=departments))
    chain.append(KeywordCategorizer())
    categorizer = ChainCategorizer(chain)
    logger.info("categorizer chain: %s", " -> ".join(categorizer.methods))
    return categorizer
