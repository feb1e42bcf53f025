"""Request ids a client may choose."""
import pytest

from api_gateway.auth import Principal, required_scope
from api_gateway.context import is_public, valid_request_id


@pytest.mark.parametrize("value,ok", [
    ("abc", True), ("A-Z_0.9", True), ("x" * 128, True), ("x" * 129, False), ("", False),
    (None, False), ("a b", False), ("a\r\nSet-Cookie: x", False), ("é", False), ("a/b", False),
    ("abc\n", False),
])
def test_valid_request_id(value, ok):
    assert valid_request_id(value) == (value if ok else None)


def test_a_principal_allows_only_its_scopes():
    p = Principal("acme", frozenset({"read"}), "7")

    assert p.allows("read")
    assert not p.allows("write") and not p.allows("admin")
    assert not Principal("acme").allows("read")             # no scopes, nothing allowed


@pytest.mark.parametrize("method,path,scope", [
    ("GET", "/api/tickets", "read"), ("HEAD", "/api/tickets", "read"),
    ("OPTIONS", "/api/users", "read"), ("POST", "/api/tickets", "write"),
    ("PUT", "/api/tickets/1/status", "write"), ("PATCH", "/api/tickets/1", "write"),
    ("DELETE", "/api/tickets", "write"), ("GET", "/api/admin/tenants", "admin"),
    ("POST", "/api/admin/keys", "admin"), ("GET", "/api/admin", "admin"),
    ("GET", "/api/administrator", "read"), ("GET", "/api/dashboard/queues", "admin"),
    ("GET", "/api/dashboard/summary", "read"),
    ("POST", "/api/users/12/erase", "admin"), ("POST", "/api/users/12/erase/", "admin"),
    ("POST", "/api/users", "write"), ("POST", "/api/users/12/erased", "write"),
    ("POST", "/api/users/12/x/erase", "write"),
])
def test_required_scope(method, path, scope):
    assert required_scope(method, path) == scope


@pytest.mark.parametrize("path,public", [
    ("/api/health", True), ("/openapi.json", True), ("/docs", True), ("/health", True),
    ("/docs/assets/swagger-ui.css", True), ("/metrics", True), ("/api/tickets", False),
    ("/api/health/x", False), ("/docs/x", False), ("/api/admin/keys", False),
    ("/dashboard", True), ("/dashboard/app.js", True), ("/api/dashboard/summary", False),
])
def test_public_paths(path, public):
    assert is_public(path) is public
