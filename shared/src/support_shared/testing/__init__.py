"""Test helpers for every service: isolated schemas and queue names, polling, broker probes."""
