"""Batch upsert of tickets from other systems."""
