"""status: gateway health (a stand-in gateway over real HTTP), queues and outboxes, together."""
import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from .test_outbox_status import add_rows, create_schema

pytestmark = pytest.mark.integration

_UP = {"status": "healthy", "checks": {"database": "ok", "broker": "ok"}}
HEALTH = {"status": "healthy", "postgresql": "ok", "rabbitmq": "ok",   # api-gateway's shape
          "services": {name: _UP for name in ("ticket-service", "ai-categorization-service",
                                              "routing-service", "analytics-service",
                                              "integration-service")}}


@pytest.fixture
def gateway():
    def app(environ, start_response):
        if environ["PATH_INFO"] != "/api/health":
            return Response(status=404)(environ, start_response)
        resp = Response(json.dumps(HEALTH), content_type="application/json")
        return resp(environ, start_response)

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def env(settings, gateway):
    engine = create_schema(settings)
    add_rows(engine, (60, False, 0))
    engine.dispose()
    out = {"GATEWAY_URL": gateway}
    for prefix in ("TICKET_SERVICE_", "AI_SERVICE_", "ROUTING_SERVICE_"):
        out[f"{prefix}DATABASE_URL"] = settings.database_url
        out[f"{prefix}DB_SCHEMA"] = settings.db_schema
    return out


def test_status_summarizes_gateway_queues_and_outboxes(ctl, env, queue, dead_letter, probe,
                                                        topology):
    dead_letter(queue, 2)
    probe.publish("ticket.created", b"{}")
    result = ctl("status", "--json", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["gateway"]["status"] == "healthy"
    assert data["gateway"]["checks"]["routing-service"] == "healthy"
    assert data["gateway"]["checks"]["postgresql"] == "ok"
    rows = {r["queue"]: r for r in data["queues"]}
    assert rows[queue] == {"queue": queue, "messages": 1, "consumers": 0,
                           "dlq": f"{queue}.dlq", "dlq_messages": 2}
    assert rows[topology.unroutable_queue]["messages"] == 0
    assert [o["backlog"] for o in data["outbox"]] == [1, 1, 1]
    text = ctl("status", env=env).stdout
    assert text.startswith(f"Gateway {env['GATEWAY_URL']}/api/health: healthy (HTTP 200)")
    assert [queue, "1", "0", "2"] in [line.split() for line in text.splitlines()]


def test_status_with_the_gateway_down_still_reports_the_rest(ctl, env, queue):
    result = ctl("status", env={**env, "GATEWAY_URL": "http://127.0.0.1:1"})
    assert result.exit_code == 2
    assert "unreachable" in result.stdout.splitlines()[0]
    assert queue in result.stdout and "Outbox" in result.stdout


def test_status_with_the_broker_down(ctl, env):
    result = ctl("status", "--json",
                 env={**env, "RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:1"})
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["queues"] is None and "unreachable" in data["queues_error"]
