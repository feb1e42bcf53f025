"""Command-line rules enforced before anything is contacted (refusals and usage errors)."""
import pytest
from click.testing import CliRunner

from ticketctl.cli import cli

# Nothing listens on port 1: a test that reached the network would fail with exit code 2.
ENV = {"RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:1/%2F",
       "RABBITMQ_MANAGEMENT_URL": "http://guest:guest@127.0.0.1:1"}


def run(*args):
    return CliRunner().invoke(cli, list(args), env=ENV)


def test_purge_needs_yes():
    result = run("dlq", "purge", "svc.ticket.created.dlq")
    assert result.exit_code == 1
    assert "refusing to purge svc.ticket.created.dlq without --yes" in result.stderr


@pytest.mark.parametrize("command", [("replay", "--all"), ("purge", "--yes"), ("show",)])
def test_live_queue_refused(command):
    result = run("dlq", command[0], "svc.ticket.created", *command[1:])
    assert result.exit_code == 1
    assert "refusing 'svc.ticket.created'" in result.stderr
    assert "Traceback" not in result.output


def test_replay_needs_a_selection():
    result = run("dlq", "replay", "x.dlq")
    assert result.exit_code == 2
    assert "--all, --limit N or --message-id ID" in result.stderr


def test_replay_all_and_message_id_exclude_each_other():
    result = run("dlq", "replay", "x.dlq", "--all", "--message-id", "m1")
    assert result.exit_code == 2 and "not both" in result.stderr


def test_bad_environment_is_reported():
    result = CliRunner().invoke(cli, ["dlq", "list"], env={"DELIVERY_LIMIT": "many"})
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr
