"""Erasing one requester's personal data (``POST /api/users/{id}/erase``)."""
