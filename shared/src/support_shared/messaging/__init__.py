"""RabbitMQ topology, publishing with confirms, and the consumer loop shared by every service."""
