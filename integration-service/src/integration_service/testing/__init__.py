"""Local HTTP servers that stand in for what lives outside the suite in tests: a helpdesk to
pull from (``FakeHelpdesk``), ticket-service's batch endpoint (``FakeTicketService``), and a
webhook receiver (``WebhookReceiver``). They speak real HTTP on 127.0.0.1."""
from .helpdesk import FakeHelpdesk
from .receiver import WebhookReceiver
from .server import LocalServer
from .tickets import FakeTicketService

__all__ = ["FakeHelpdesk", "FakeTicketService", "LocalServer", "WebhookReceiver"]
