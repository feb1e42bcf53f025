"""Settings shared by every service, read from the environment with local defaults."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .manifest import SUITE, queue_name


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class CommonSettings(BaseSettings):
    """Broker, naming and logging settings every process needs.

    Common fields ignore the service prefix (``RABBITMQ_URL`` for everyone); service
    subclasses set ``env_prefix`` for their own fields (``TICKET_SERVICE_DATABASE_URL``).
    Tests build settings directly with field names to isolate schemas and queues.
    """

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    rabbitmq_url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/%2F", validation_alias=_env("RABBITMQ_URL")
    )
    exchange: str = Field("tickets", validation_alias=_env("EVENT_EXCHANGE"))
    dead_letter_exchange: str = Field("tickets.dlx", validation_alias=_env("DEAD_LETTER_EXCHANGE"))
    queue_prefix: str = Field("", validation_alias=_env("QUEUE_PREFIX"))
    delivery_limit: int = Field(5, validation_alias=_env("DELIVERY_LIMIT"), ge=1, le=100)
    prefetch_count: int = Field(200, validation_alias=_env("PREFETCH_COUNT"), ge=1, le=1000)
    consumer_batch_size: int = Field(100, validation_alias=_env("CONSUMER_BATCH_SIZE"),
                                     ge=1, le=1000)
    heartbeat_seconds: int = Field(5, validation_alias=_env("AMQP_HEARTBEAT"), ge=0, le=600)
    # False: the processes only check that the exchanges and their queues exist (passive
    # declares), for a broker user without configure permission; ``migrate`` (run with the
    # admin user) declares them. See messaging/permissions.py.
    rabbitmq_declare: bool = Field(True, validation_alias=_env("RABBITMQ_DECLARE"))
    # The broker's admin user, for ``migrate`` only (it declares exchanges and queues); empty:
    # migrate uses RABBITMQ_URL. Never given to a long-running process.
    rabbitmq_admin_url: str = Field("", validation_alias=_env("RABBITMQ_ADMIN_URL"), repr=False)
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_format: str = Field("json", validation_alias=_env("LOG_FORMAT"))
    bind_host: str = Field("127.0.0.1", validation_alias=_env("BIND_HOST"))
    web_workers: int = Field(2, validation_alias=_env("WEB_WORKERS"), ge=1, le=64)
    web_threads: int = Field(4, validation_alias=_env("WEB_THREADS"), ge=1, le=256)
    # gunicorn's worker class: gevent (a greenlet per connection, read deadlines; the default)
    # or gthread (WEB_THREADS threads per worker; measured against gevent in performance.md).
    web_worker_class: Literal["gevent", "gthread"] = Field(
        "gevent", validation_alias=_env("WEB_WORKER_CLASS"))
    port: int = Field(5000, ge=1, le=65535)
    # The credential of every internal call (X-Internal-Token): services require it, the
    # gateway and ticketctl send it. Without one a web process refuses to start unless
    # INSECURE_NO_INTERNAL_TOKEN is set (support_shared.internal).
    internal_token: str = Field("", validation_alias=_env("INTERNAL_API_TOKEN"), repr=False)
    insecure_no_internal_token: bool = Field(
        False, validation_alias=_env("INSECURE_NO_INTERNAL_TOKEN"))


class ServiceSettings(CommonSettings):
    """Settings of a service that owns a PostgreSQL schema."""

    service_name: ClassVar[str] = ""

    database_url: str = "postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage"
    db_schema: str = "public"
    db_pool_size: int = Field(5, ge=1, le=100)
    db_statement_timeout_ms: int = Field(5000, ge=100, le=600_000)
    relay_batch_size: int = Field(200, ge=1, le=10_000)
    relay_poll_seconds: float = Field(1.0, gt=0, le=60)

    def queue(self, service: str, routing_key: str) -> str:
        """Name of the durable queue ``service`` consumes ``routing_key`` from (the manifest's
        ``queue_name`` with this environment's prefix)."""
        return queue_name(self.queue_prefix, service, routing_key)


def service_settings(service: str) -> type[ServiceSettings]:
    """The settings base of ``service`` as the suite manifest declares it: its env prefix
    (``ROUTING_SERVICE_DATABASE_URL``...), schema and port as defaults, its name as
    ``service_name``. A service's ``Settings`` subclasses it and adds only its own fields."""
    spec = SUITE.service(service)
    if spec.schema is None:
        raise ValueError(f"{spec.name} owns no schema: use CommonSettings")
    namespace = {
        "__module__": __name__,
        "__doc__": f"Settings of {spec.name} (env prefix ``{spec.env_prefix}``).",
        "__annotations__": {"db_schema": str, "port": int, "rabbitmq_url": str},
        "model_config": SettingsConfigDict(env_prefix=spec.env_prefix, populate_by_name=True,
                                           extra="ignore"),
        "service_name": spec.name,
        "db_schema": spec.schema,
        "port": Field(spec.port, ge=1, le=65535),
        # The service's own broker user (``TICKET_SERVICE_RABBITMQ_URL``), else the common one.
        "rabbitmq_url": Field(CommonSettings.model_fields["rabbitmq_url"].default,
                              validation_alias=_env(f"{spec.env_prefix}RABBITMQ_URL",
                                                    "RABBITMQ_URL")),
    }
    return type(f"{spec.package.title().replace('_', '')}Base", (ServiceSettings,), namespace)
