"""``ticketctl departments ...`` against the real routing-service app (real HTTP, real
PostgreSQL): list, create, update, deactivate, refusals."""
import json
import logging
import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from routing_service.app import create_app
from routing_service.config import Settings as RoutingSettings
from support_shared import dependencies
from support_shared.db import migrate
from support_shared.service import engine_for
from ticketctl.cli import cli

pytestmark = pytest.mark.integration


@pytest.fixture
def routing_url(make_settings):
    settings = make_settings(RoutingSettings, schema="ctlrouting")
    engine = engine_for(settings)
    migrate(engine, settings.db_schema, "routing_service")
    engine.dispose()
    app = create_app(settings)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", settings.internal_token
    server.shutdown()
    thread.join(5)
    dependencies.of(app).close()


@pytest.fixture
def ctl(routing_url):
    url, token = routing_url

    def run(*args):
        return CliRunner().invoke(cli, ["departments", *args],
                                  env={"ROUTING_SERVICE_URL": url, "INTERNAL_API_TOKEN": token})
    return run


def test_create_update_deactivate_and_list(ctl):
    created = ctl("create", "Legal", "--tenant", "acme", "--keywords", "nda, contract review",
                  "--min-confidence", "0.4", "--description", "contracts")
    assert created.exit_code == 0, created.output
    assert "created department Legal (version 1, active)" in created.stdout
    updated = ctl("update", "legal", "--tenant", "acme", "--keywords", "gdpr", "--json")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["keywords"] == ["gdpr"]
    gone = ctl("deactivate", "Legal", "--tenant", "acme")
    assert "deactivated department Legal (version 3, inactive)" in gone.stdout

    listed = json.loads(ctl("list", "--tenant", "acme", "--json").stdout)
    assert [d["name"] for d in listed][-1] == "Legal" and listed[-1]["active"] is False
    table = ctl("list", "--tenant", "acme").stdout
    assert table.splitlines()[0].split()[:3] == ["NAME", "ACTIVE", "TRIAGE"]
    assert "Legal" not in ctl("list").stdout                    # the default tenant's


def test_refusals_exit_1_with_the_service_s_message(ctl):
    taken = ctl("create", "HR")
    assert taken.exit_code == 1 and "already exists" in taken.output
    triage = ctl("deactivate", "General")
    assert triage.exit_code == 1 and "triage department" in triage.output
    assert ctl("update", "Nope", "--inactive").exit_code == 1
    assert ctl("update", "HR").exit_code == 2                   # nothing to change


def test_an_unreachable_service_exits_2():
    result = CliRunner().invoke(cli, ["departments", "list"],
                                env={"ROUTING_SERVICE_URL": "http://127.0.0.1:1"})
    assert result.exit_code == 2 and "unreachable" in result.output


@pytest.fixture
def agents_ctl(routing_url):
    url, token = routing_url

    def run(*args):
        return CliRunner().invoke(cli, ["agents", *args],
                                  env={"ROUTING_SERVICE_URL": url, "INTERNAL_API_TOKEN": token})
    return run


def test_agents_create_update_list_and_a_department_policy(ctl, agents_ctl):
    policy = ctl("update", "IT Support", "--tenant", "acme", "--assignment-policy",
                 "least_loaded", "--json")
    assert policy.exit_code == 0, policy.output
    assert json.loads(policy.stdout)["assignment_policy"] == "least_loaded"
    created = agents_ctl("create", "Ann Lee", "ann@example.com", "--tenant", "acme",
                         "--departments", "it support, hr", "--skills", "vpn", "--capacity", "3")
    assert created.exit_code == 0, created.output
    assert "created agent 1 Ann Lee (available, 0/3 open)" in created.stdout
    away = agents_ctl("update", "1", "--tenant", "acme", "--status", "away", "--json")
    assert away.exit_code == 0, away.output
    assert json.loads(away.stdout)["status"] == "away"
    listed = json.loads(agents_ctl("list", "--tenant", "acme", "--json").stdout)
    assert [(a["name"], a["departments"]) for a in listed] == [("Ann Lee", ["IT Support", "HR"])]
    assert agents_ctl("list", "--tenant", "acme").stdout.split()[:3] == ["ID", "NAME", "EMAIL"]
    assert agents_ctl("list").stdout.count("Ann Lee") == 0            # the default tenant's
    taken = agents_ctl("create", "Ann", "ANN@example.com", "--tenant", "acme")
    assert taken.exit_code == 1 and "already exists" in taken.output
    assert agents_ctl("update", "1", "--tenant", "other", "--capacity", "2").exit_code == 1
    assert agents_ctl("update", "1", "--tenant", "acme").exit_code == 2
