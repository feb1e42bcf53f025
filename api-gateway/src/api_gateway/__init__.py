"""Ticket Triage Suite API gateway: the one public HTTP entry point."""
