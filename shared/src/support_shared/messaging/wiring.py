"""Consumers built from the suite manifest: its subscriptions, the service's dependencies.

A handler named in ``manifest.SUITE`` is a set-based function ``handler(envelopes, *, ...)``
whose keyword-only parameters are its dependencies (``uow``, ``categorizer``, ``clock``...).
The service passes a factory per dependency name; each call of the handler gets fresh ones
(a new unit of work per batch), in the manner of cosmic's ``bootstrap.inject_dependencies``.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Engine

from ..config import CommonSettings
from ..events import PAYLOAD_TYPES, Envelope
from ..manifest import SUITE, Consumes
from .batches import BatchHandler
from .consumer import Consumer, Subscription

Dependencies = Mapping[str, Callable[[], Any]]


class WiringError(Exception):
    """The manifest names a handler that cannot be found or given what it needs."""


def resolve(path: str) -> Callable[..., None]:
    """The function ``"package.module:function"`` names."""
    module_name, _, attr = path.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise WiringError(f"handler {path!r} not found: {exc}") from exc
    if not callable(function):
        raise WiringError(f"handler {path!r} is not callable")
    return function


def inject(function: Callable[..., None], dependencies: Dependencies) -> BatchHandler:
    """``function`` with its keyword-only parameters filled from ``dependencies`` per call."""
    needed = []
    for name, param in inspect.signature(function).parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if name in dependencies:
            needed.append(name)
        elif param.default is inspect.Parameter.empty:
            raise WiringError(f"{function.__module__}.{function.__qualname__} needs {name!r}, "
                              f"which the service does not provide")

    def handler(envelopes: Sequence[Envelope]) -> None:
        function(envelopes, **{name: dependencies[name]() for name in needed})

    handler.__name__ = getattr(function, "__name__", "handler")
    handler.__qualname__ = getattr(function, "__qualname__", handler.__name__)
    return handler


def subscription(consumes: Consumes, dependencies: Dependencies) -> Subscription:
    return Subscription(consumes.routing_key, inject(resolve(consumes.handler), dependencies),
                        PAYLOAD_TYPES[consumes.event], consumes.bindings)


def build_consumer(service: str, settings: CommonSettings, engine: Engine | None,
                   dependencies: Dependencies, *, offload: bool = False,
                   batch_size: int | None = None) -> Consumer:
    """The consumer of every subscription the manifest gives ``service``."""
    spec = SUITE.service(service)
    subscriptions = [subscription(c, dependencies) for c in spec.consumes]
    return Consumer(settings, spec.name, subscriptions, offload=offload, engine=engine,
                    batch_size=settings.consumer_batch_size if batch_size is None else batch_size)
