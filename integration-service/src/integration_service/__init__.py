"""integration-service: pull ingestion from helpdesks and JSON APIs, and webhooks both ways."""
