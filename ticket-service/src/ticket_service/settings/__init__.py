"""Tenant settings: how the AI's decision is applied to the tenant's tickets."""
