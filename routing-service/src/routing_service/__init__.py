"""routing-service: assigns tickets to departments and publishes ticket.routed."""
