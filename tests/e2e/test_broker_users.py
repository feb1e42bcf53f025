"""The suite runs with one RabbitMQ user per service (least privilege), as compose and k8s
ship it: ``migrate`` declares the topology as the admin user, every other process connects
as its service's user and only checks the topology (RABBITMQ_DECLARE=false), the gateway's DLQ
tools as the operator. A throwaway vhost and users, deleted afterwards."""
from __future__ import annotations

import time
from typing import Iterator

import pytest

from support_shared.manifest import SUITE
from support_shared.suite import Suite, migrate_all
from support_shared.testing.broker_users import throwaway_broker_users
from support_shared.testing.helpers import unique_suffix, wait_until
from support_shared.testing.isolated import remove_isolated
from tests.conftest import RunningSuite, provision_dev_key, suite_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def least_privilege(tmp_path_factory, database_url, rabbitmq_url) -> Iterator[RunningSuite]:
    tmp = tmp_path_factory.mktemp("least-privilege")
    suffix = unique_suffix()
    env = suite_env(suffix, database_url, rabbitmq_url)
    with throwaway_broker_users(suffix, rabbitmq_url, exchange=env["EVENT_EXCHANGE"],
                                dlx=env["DEAD_LETTER_EXCHANGE"],
                                queue_prefix=env["QUEUE_PREFIX"]) as users:
        run_env = {**env, "RABBITMQ_URL": users.url("operator"), "RABBITMQ_DECLARE": "false",
                   **{f"{s.env_prefix}RABBITMQ_URL": users.url(s.name) for s in SUITE.services
                      if s.consumes or s.publishes}}
        suite = Suite(env=run_env, log_dir=tmp / "logs")
        try:
            migrate_all({**run_env, "RABBITMQ_ADMIN_URL": users.url("admin")})
            suite.start()
            took = suite.wait_healthy(timeout=90)
            key = provision_dev_key(run_env, tmp / "dev-api-key")
            yield RunningSuite(suite, f"http://127.0.0.1:{env['GATEWAY_PORT']}", took, key)
        finally:
            suite.stop()
            remove_isolated(env, database_url, suffix)


def test_tickets_flow_with_per_service_broker_users(least_privilege):
    running = least_privilege
    assert running.get("/api/health").json()["rabbitmq"] == "ok"
    started = time.monotonic()
    resp = running.post("/api/tickets", json={
        "title": "Cannot log in to VPN", "user_name": "Dana Kim",
        "user_email": "dana.kim@example.com",
        "description": "My VPN client rejects my password and I cannot reach the network drive."})
    assert resp.status_code == 201, resp.text
    ticket_id = resp.json()["id"]
    routed = wait_until(lambda: running.get(f"/api/tickets/{ticket_id}").json().get("department"),
                        timeout=30, message="ticket categorized and routed")
    assert routed == "IT Support", time.monotonic() - started
    assert not running.suite.dead()


def test_operator_lists_dead_letter_queues_as_the_operator_user(least_privilege):
    resp = least_privilege.operator().get("/api/admin/dlq")
    assert resp.status_code == 200, resp.text
