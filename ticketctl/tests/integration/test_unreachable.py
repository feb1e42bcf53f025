"""Nothing listening: a clear one-line error and exit code 2, never a traceback."""
import pytest
from click.testing import CliRunner

from ticketctl.cli import cli

pytestmark = pytest.mark.integration

NOWHERE = {
    "RABBITMQ_URL": "amqp://guest:secret@127.0.0.1:1/%2F",
    "RABBITMQ_MANAGEMENT_URL": "http://guest:secret@127.0.0.1:1",
    "TICKET_SERVICE_DATABASE_URL": "postgresql+psycopg2://postgres:secret@127.0.0.1:1/x",
}
BROKER_DOWN = "RabbitMQ at amqp://guest:***@127.0.0.1:1/%2F unreachable"


@pytest.mark.parametrize("args,what", [
    (["dlq", "list"], BROKER_DOWN),
    (["dlq", "show", "a.dlq"], BROKER_DOWN),
    (["dlq", "replay", "a.dlq", "--all"], BROKER_DOWN),
    (["dlq", "purge", "a.dlq", "--yes"], BROKER_DOWN),
    (["outbox", "status", "--service", "ticket-service"], "database unavailable"),
])
def test_exit_2_with_a_message(args, what):
    result = CliRunner().invoke(cli, args, env=NOWHERE)
    assert result.exit_code == 2, result.output
    assert what in result.output
    assert "Traceback" not in result.output and "secret" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_management_api_down_while_the_broker_is_up(rabbitmq_url):
    env = {"RABBITMQ_URL": rabbitmq_url,
           "RABBITMQ_MANAGEMENT_URL": NOWHERE["RABBITMQ_MANAGEMENT_URL"]}
    result = CliRunner().invoke(cli, ["dlq", "list"], env=env)
    assert result.exit_code == 2
    assert "RabbitMQ management API at http://127.0.0.1:1 unreachable" in result.stderr
    assert "secret" not in result.output
