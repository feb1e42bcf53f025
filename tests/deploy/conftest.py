"""Fixtures of the deployment-file tests: repository root, external tools, settings' env names."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from support_shared.manifest import SUITE, Process

ROOT = Path(__file__).resolve().parents[2]


def deployed_name(process: Process) -> str:
    """A process's compose service and k8s Deployment name: a web process goes by its
    service's name (the host name the gateway calls), the others by ``<short>-<command>``."""
    service = SUITE.service(process.service)
    return service.name if process.command == "web" else f"{service.short}-{process.command}"


# compose service / k8s Deployment -> (image / service folder, command), from the manifest
PROCESSES = {deployed_name(p): (p.service, p.command) for p in SUITE.processes}
MIGRATED = [s.name for s in SUITE.with_schema]

# Where a missing tool comes from, for the skip/fail message.
TOOL_SOURCES = {
    "docker-compose": "Debian package docker-compose (apt-get install -y docker-compose)",
    "kubectl": "package kubectl (in the machine image; `kubectl kustomize` renders offline)",
    "promtool": "Debian package prometheus (make tools: apt-get install -y prometheus)",
}
NOT_INSTALLABLE = {"kubectl"}  # not in any registry a fresh machine reaches


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def require_tool() -> Callable[[str], str]:
    """Path of a command-line tool; skip without it locally, fail without it in CI."""

    def require(name: str) -> str:
        path = shutil.which(name)
        if path:
            return path
        reason = f"{name} not found: install the {TOOL_SOURCES.get(name, name)}"
        # kubectl comes from no registry a fresh machine reaches (Debian's is 1.20): the
        # manifests are still validated file by file against the Kubernetes schemas.
        if os.environ.get("CI") and name not in NOT_INSTALLABLE:
            pytest.fail(f"{reason}; CI must run this check")
        pytest.skip(reason)

    return require


def _env_names(cls: type[BaseSettings], name: str) -> list[str]:
    field = cls.model_fields[name]
    if isinstance(field.validation_alias, AliasChoices):   # the lower-case ones: field names
        return [str(c) for c in field.validation_alias.choices if str(c).isupper()]
    prefix = cls.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper()]


def _settings_classes() -> list[tuple[type[BaseSettings], bool]]:
    """Every settings class of the suite, with whether its service has a relay."""
    from ai_categorization_service.cli import SPEC as ai_spec
    from analytics_service.cli import SPEC as analytics_spec
    from analytics_service.dashboard import DashboardSettings
    from api_gateway.admin import AdminSettings
    from api_gateway.config import GatewaySettings
    from integration_service.cli import SPEC as integration_spec
    from routing_service.cli import SPEC as routing_spec
    from ticket_service.cli import SPEC as ticket_spec

    specs = [ticket_spec, ai_spec, routing_spec, analytics_spec, integration_spec]
    return [(spec.settings, spec.publishes) for spec in specs] + [
        (GatewaySettings, False), (AdminSettings, False), (DashboardSettings, False)]


@pytest.fixture(scope="session")
def setting_defaults() -> dict[str, Any]:
    """Environment variable -> default, for every setting a process of the suite reads.

    The relay settings of a service without a relay are left out: nothing reads them.
    """
    defaults: dict[str, Any] = {}
    for cls, has_relay in _settings_classes():
        for name, field in cls.model_fields.items():
            if name.startswith("relay_") and not has_relay:
                continue
            for env in _env_names(cls, name):
                defaults[env] = field.default
    from support_shared.metrics import METRICS_PORT_ENV
    defaults[METRICS_PORT_ENV] = None   # read by every relay and consumer (support_shared.metrics)
    return defaults
