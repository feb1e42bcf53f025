"""Tickets: the aggregate, its commands and the ticket.routed handler, table, routes."""
