"""Accounts: tenants, their API keys, and the internal API that verifies and manages them."""
