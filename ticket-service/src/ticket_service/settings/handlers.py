"""Read and set a tenant's settings, each in one unit of work."""
from __future__ import annotations

import logging

from ..tickets.persistence import TicketUnitOfWork
from .domain import TenantSettings

logger = logging.getLogger(__name__)


def get_settings(tenant_id: str, *, uow: TicketUnitOfWork) -> TenantSettings:
    with uow:   # read only
        return uow.settings.get(tenant_id)


def put_settings(tenant_id: str, settings: TenantSettings, *,
                 uow: TicketUnitOfWork) -> TenantSettings:
    """Replace the tenant's settings; they apply to the decisions applied from now on."""
    with uow:
        uow.settings.put(tenant_id, settings)
        uow.commit()
    logger.info("tenant %s settings: ai_priority=%s", tenant_id, settings.ai_priority)
    return settings
