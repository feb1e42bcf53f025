"""Ticket Triage Suite common library: config, logging, db, events, messaging, outbox, inbox."""
