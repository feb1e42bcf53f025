"""tenants / keys commands against a stand-in of ticket-service's internal endpoints (real HTTP).

The real endpoints are exercised end to end by tests/e2e (the suite provisions its keys with
these commands)."""
import itertools
import json
import stat
import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from ticketctl.cli import cli


class FakeInternal:
    """Just enough of /internal/tenants and /internal/keys, with the real error shapes."""

    def __init__(self) -> None:
        self.tenants: dict[str, dict] = {}
        self.keys: dict[int, dict] = {}
        self.ids = itertools.count(1)
        self.headers: list[dict] = []

    def __call__(self, environ, start_response):
        req = Request(environ)
        self.headers.append(dict(req.headers))
        status, body = self.handle(req.method, req.path, req.get_json(silent=True) or {},
                                   req.args)
        resp = Response(json.dumps(body), status=status, content_type="application/json")
        return resp(environ, start_response)

    @staticmethod
    def error(status, code, message):
        return status, {"error": {"code": code, "message": message, "details": None}}

    def handle(self, method, path, body, args):
        if (method, path) == ("POST", "/internal/tenants"):
            if body["tenant_id"] in self.tenants:
                return self.error(409, "tenant_exists", f"tenant {body['tenant_id']!r} already "
                                                        "exists")
            tenant = {"tenant_id": body["tenant_id"], "name": body.get("name", body["tenant_id"]),
                      "created_at": "2026-11-21T10:00:00+00:00"}
            self.tenants[tenant["tenant_id"]] = tenant
            return 201, tenant
        if (method, path) == ("GET", "/internal/tenants"):
            return 200, {"tenants": list(self.tenants.values())}
        if (method, path) == ("POST", "/internal/keys"):
            if body["tenant_id"] not in self.tenants:
                return self.error(404, "not_found", f"tenant {body['tenant_id']!r} not found")
            key_id = next(self.ids)
            key = {"id": key_id, "tenant_id": body["tenant_id"], "prefix": f"tts_{key_id:08d}",
                   "scopes": body["scopes"], "name": body["name"],
                   "created_at": "2026-11-21T10:00:00+00:00", "revoked_at": None}
            self.keys[key_id] = {**key, "key": f"tts_{key_id:08d}_{'s' * 43}"}
            return 201, self.keys[key_id]
        if (method, path) == ("GET", "/internal/keys"):
            found = [{k: v for k, v in key.items() if k != "key"} for key in self.keys.values()
                     if args.get("tenant_id") in (None, key["tenant_id"])]
            return 200, {"keys": found}
        if method == "POST" and path.endswith("/revoke"):
            key = self.keys.get(int(path.split("/")[3]))
            if key is None:
                return self.error(404, "not_found", "API key not found")
            key["revoked_at"] = "2026-11-21T11:00:00+00:00"
            return 200, {k: v for k, v in key.items() if k != "key"}
        if (method, path) == ("POST", "/internal/keys/verify"):
            for key in self.keys.values():
                if key["key"] == body["key"] and key["revoked_at"] is None:
                    return 200, {"tenant_id": key["tenant_id"], "scopes": key["scopes"],
                                 "key_id": key["id"]}
            return self.error(401, "invalid_api_key", "unknown or revoked API key")
        return self.error(404, "not_found", "no such path")


@pytest.fixture
def internal():
    fake = FakeInternal()
    server = make_server("127.0.0.1", 0, fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    thread.join(5)


@pytest.fixture
def ctl(internal):
    def run(*args, token=""):
        env = {"TICKET_SERVICE_URL": internal.url, "INTERNAL_API_TOKEN": token,
               "INTERNAL_API_TOKEN_FILE": "/nonexistent/internal-token"}
        return CliRunner().invoke(cli, list(args), env=env)

    return run


def test_tenants_create_and_list(ctl, internal):
    assert ctl("tenants", "create", "acme", "--name", "ACME Corp").stdout == "created tenant acme\n"
    again = ctl("tenants", "create", "acme")
    assert again.exit_code == 1 and "tenant 'acme' already exists" in again.stderr
    listed = ctl("tenants", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[1].split()[:3] == ["acme", "ACME", "Corp"]
    assert json.loads(ctl("tenants", "list", "--json").stdout)[0]["tenant_id"] == "acme"


def test_keys_create_prints_the_key_once_on_stdout(ctl, internal):
    ctl("tenants", "create", "acme")
    result = ctl("keys", "create", "--tenant", "acme", "--scopes", "read, WRITE", "--name", "ci")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{internal.keys[1]['key']}\n"
    assert "cannot be shown again" in result.stderr
    assert internal.keys[1]["scopes"] == ["read", "write"]
    listed = ctl("keys", "list", "--tenant", "acme")
    assert "tts_00000001" in listed.stdout and internal.keys[1]["key"] not in listed.stdout
    assert "read,write" in listed.stdout


def test_keys_create_refusals(ctl, internal):
    bad_scope = ctl("keys", "create", "--tenant", "acme", "--scopes", "read,root")
    assert bad_scope.exit_code == 2 and "comma-separated" in bad_scope.stderr
    assert internal.headers == []                             # refused before any call
    unknown_tenant = ctl("keys", "create", "--tenant", "nope")
    assert unknown_tenant.exit_code == 1 and "tenant 'nope' not found" in unknown_tenant.stderr


def test_keys_revoke(ctl, internal):
    ctl("tenants", "create", "acme")
    ctl("keys", "create", "--tenant", "acme")
    result = ctl("keys", "revoke", "1")
    assert result.exit_code == 0
    assert result.stdout == "revoked key 1 (tts_00000001) of tenant acme\n"
    assert ctl("keys", "revoke", "9").exit_code == 1
    assert json.loads(ctl("keys", "list", "--json").stdout)[0]["revoked_at"]


def test_ensure_dev_creates_once_and_replaces_a_revoked_key(ctl, internal, tmp_path):
    path = tmp_path / "var" / "dev-api-key"
    first = ctl("keys", "ensure-dev", "--file", str(path))
    assert first.exit_code == 0, first.output
    key = path.read_text().strip()
    assert key in first.stdout and key == internal.keys[1]["key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert internal.tenants["default"] and internal.keys[1]["scopes"] == ["read", "write", "admin"]

    second = ctl("keys", "ensure-dev", "--file", str(path))
    assert "nothing to do" in second.stdout and len(internal.keys) == 1

    ctl("keys", "revoke", "1")
    third = ctl("keys", "ensure-dev", "--file", str(path))
    assert third.exit_code == 0 and len(internal.keys) == 2
    assert path.read_text().strip() == internal.keys[2]["key"]


def test_the_internal_token_is_sent_when_set(ctl, internal):
    ctl("tenants", "list", token="s3cret")
    assert internal.headers[-1]["X-Internal-Token"] == "s3cret"
    ctl("tenants", "list")
    assert "X-Internal-Token" not in internal.headers[-1]


def test_the_token_file_is_read_when_the_variable_is_unset(internal, tmp_path):
    path = tmp_path / "internal-token"
    path.write_text("from-the-file-token\n")
    env = {"TICKET_SERVICE_URL": internal.url, "INTERNAL_API_TOKEN": "",
           "INTERNAL_API_TOKEN_FILE": str(path)}
    assert CliRunner().invoke(cli, ["tenants", "list"], env=env).exit_code == 0
    assert internal.headers[-1]["X-Internal-Token"] == "from-the-file-token"


def test_unreachable_ticket_service_exits_2():
    env = {"TICKET_SERVICE_URL": "http://127.0.0.1:1"}
    result = CliRunner().invoke(cli, ["tenants", "list"], env=env)
    assert result.exit_code == 2
    assert "unreachable" in result.stderr and "Traceback" not in result.output


def test_remove_needs_yes_and_asks_every_service_ticket_service_last(monkeypatch):
    from ticketctl.config import service_urls

    monkeypatch.setenv("ROUTING_SERVICE_URL", "http://10.0.0.3:9003")
    monkeypatch.delenv("TICKET_SERVICE_URL", raising=False)
    urls = service_urls()
    assert len(urls) == 5 and "http://10.0.0.3:9003" in urls
    assert urls[-1] == "http://127.0.0.1:5001"
    result = CliRunner().invoke(cli, ["tenants", "remove", "acme"])
    assert result.exit_code != 0 and "--yes" in result.output
