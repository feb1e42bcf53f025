"""integration-service: pull ingestion from helpdesks and JSON APIs, inbound and outbound webhooks."""
