"""The command line: web and a no-op migrate, nothing else."""
import logging

import pytest

from api_gateway import cli


@pytest.fixture(autouse=True)
def _keep_root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_migrate_is_a_no_op(monkeypatch):
    monkeypatch.setattr(cli, "run_web", lambda *_a: pytest.fail("migrate must not start the web"))

    cli.main(["migrate"])


@pytest.mark.parametrize("command", ["relay", "consumer", ""])
def test_other_commands_are_refused(command):
    with pytest.raises(SystemExit) as exc:
        cli.main([command])
    assert exc.value.code == 2


def test_web_runs_the_app_factory_under_gunicorn(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "run_web", lambda spec, settings: seen.append((spec, settings)))
    monkeypatch.setenv("GATEWAY_PORT", "5999")

    cli.main(["web"])

    [(spec, settings)] = seen
    assert spec.app_factory == "api_gateway.app:create_app()"
    assert settings.port == 5999
