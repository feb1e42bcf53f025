"""Incremental export of a tenant's changed tickets."""
