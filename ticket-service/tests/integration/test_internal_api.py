"""/internal/...: tenants, keys (stored hashed), verification and revocation; the token."""
import pytest
import sqlalchemy as sa

from ticket_service.app import create_app
from support_shared import dependencies

pytestmark = pytest.mark.integration


def tenant(client, tenant_id="acme", **extra):
    return client.post("/internal/tenants", json={"tenant_id": tenant_id, **extra})


def key(client, tenant_id="acme", scopes=("read", "write"), **extra):
    return client.post("/internal/keys",
                       json={"tenant_id": tenant_id, "scopes": list(scopes), **extra})


def verify(client, plain):
    return client.post("/internal/keys/verify", json={"key": plain})


def test_tenants_are_created_once_and_listed(client):
    made = tenant(client, name="ACME Corp")
    assert made.status_code == 201
    assert made.get_json()["tenant_id"] == "acme" and made.get_json()["name"] == "ACME Corp"
    again = tenant(client)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "tenant_exists"
    tenant(client, "beta")
    assert [t["tenant_id"] for t in client.get("/internal/tenants").get_json()["tenants"]] == [
        "acme", "beta"]
    assert client.get("/internal/tenants/beta").get_json()["name"] == "beta"
    assert client.get("/internal/tenants/nope").status_code == 404


@pytest.mark.parametrize("tenant_id", ["", "ACME", "-x", "a b", "a" * 64, "é"])
def test_bad_tenant_ids_are_400(client, tenant_id):
    assert tenant(client, tenant_id).status_code == 400


def test_a_key_is_shown_once_stored_hashed_and_verifies(client, engine):
    tenant(client)
    made = key(client, scopes=["write", "read", "read"], name="ci")
    assert made.status_code == 201
    body = made.get_json()
    plain = body["key"]
    assert plain.startswith(body["prefix"] + "_") and body["scopes"] == ["read", "write"]
    assert verify(client, plain).get_json() == {"tenant_id": "acme", "scopes": ["read", "write"],
                                                "key_id": body["id"]}
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert plain not in str(dict(stored)) and len(stored["key_hash"]) == 64
    listed = client.get("/internal/keys?tenant_id=acme").get_json()["keys"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]


def test_unknown_malformed_and_revoked_keys_do_not_verify(client):
    tenant(client)
    plain = key(client).get_json()["key"]
    key_id = verify(client, plain).get_json()["key_id"]
    for bad in (plain[:-1] + ("A" if plain[-1] != "A" else "B"), "nope", "x" * 256):
        resp = verify(client, bad)
        assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_api_key"
    assert verify(client, "x" * 257).status_code == 400
    revoked = client.post(f"/internal/keys/{key_id}/revoke")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    again = client.post(f"/internal/keys/{key_id}/revoke")
    assert again.get_json()["revoked_at"] == revoked.get_json()["revoked_at"]
    assert verify(client, plain).status_code == 401
    assert client.post("/internal/keys/999/revoke").status_code == 404


@pytest.mark.parametrize("body,status", [
    ({"tenant_id": "nope", "scopes": ["read"]}, 404),
    ({"tenant_id": "acme", "scopes": ["root"]}, 400),
    ({"tenant_id": "acme", "scopes": []}, 400),
    ({"tenant_id": "acme"}, 400),
    ({"tenant_id": "acme", "scopes": ["read"], "key_hash": "x"}, 400),
])
def test_key_creation_refusals(client, body, status):
    tenant(client)
    assert client.post("/internal/keys", json=body).status_code == status


def test_keys_of_every_tenant_are_listed_without_a_filter(client):
    tenant(client)
    tenant(client, "beta")
    key(client)
    key(client, "beta", ["admin"])
    assert [(k["tenant_id"], k["scopes"]) for k in client.get("/internal/keys").get_json()[
        "keys"]] == [("acme", ["read", "write"]), ("beta", ["admin"])]


def test_every_route_but_the_probes_needs_the_internal_credential(settings, engine):
    app = create_app(settings)        # plain test client: sends no credential by itself
    try:
        client = app.test_client()
        for path in ("/internal/tenants", "/internal/keys", "/api/tickets", "/api/tickets/1"):
            for sent in ({}, {"X-Internal-Token": "wrong"},
                         {"X-Internal-Token": settings.internal_token + "x"}):
                refused = client.get(path, headers={"X-Tenant-ID": "acme", **sent})
                assert refused.status_code == 401, (path, sent)
                assert refused.get_json()["error"]["code"] == "unauthorized"
        good = {"X-Internal-Token": settings.internal_token}
        assert client.get("/internal/tenants", headers=good).status_code == 200
        assert client.get("/api/tickets", headers=good).status_code == 200
        assert client.get("/health").status_code == 200              # probes stay open
        assert client.get("/metrics").status_code == 200
    finally:
        dependencies.of(app).close()


def test_a_disabled_tenants_keys_stop_and_its_data_stays(client):
    tenant(client)
    plain = key(client).get_json()["key"]
    ticket = client.post("/api/tickets", headers={"X-Tenant-ID": "acme"}, json={
        "title": "Kept", "description": "kept while disabled", "user_name": "Ann",
        "user_email": "ann@example.com"}).get_json()
    assert verify(client, plain).status_code == 200

    disabled = client.post("/internal/tenants/acme/disable")
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "disabled"
    assert disabled.get_json()["disabled_at"] is not None
    assert verify(client, plain).status_code == 401
    assert client.post("/internal/tenants/acme/disable").status_code == 200     # again: fine
    kept = client.get(f"/api/tickets/{ticket['id']}", headers={"X-Tenant-ID": "acme"})
    assert kept.status_code == 200

    enabled = client.post("/internal/tenants/acme/enable")
    assert enabled.get_json() == {**enabled.get_json(), "status": "enabled", "disabled_at": None}
    assert verify(client, plain).status_code == 200
    assert client.post("/internal/tenants/nope/disable").status_code == 404


def test_erasure_deletes_every_row_of_one_tenant_only(client, engine):
    for name in ("acme", "beta"):
        tenant(client, name)
        key(client, name)
        made = client.post("/api/tickets", headers={"X-Tenant-ID": name}, json={
            "title": f"{name} ticket", "description": "personal data", "user_name": "Ann",
            "user_email": f"ann@{name}.example.com"}).get_json()
        client.post(f"/api/tickets/{made['id']}/comments", headers={"X-Tenant-ID": name},
                    json={"author_name": "Bo", "author_email": "bo@example.com", "body": "hi"})
    erased = client.delete("/internal/tenants/acme/data")
    assert erased.status_code == 200, erased.get_json()
    deleted = erased.get_json()["deleted"]
    assert {t: n for t, n in deleted.items() if n} == {
        "tenants": 1, "api_keys": 1, "tickets": 1, "users": 1, "comments": 1,
        "audit": deleted["audit"], "outbox": 2,   # created, commented
        "sla_timers": 2}                          # its ticket's first response and resolution
    with engine.connect() as conn:
        for table in ("tenants", "api_keys", "tickets", "users", "comments", "audit"):
            left = conn.execute(sa.text(f"SELECT DISTINCT tenant_id FROM {table}")).scalars()
            assert sorted(left) == ["beta"], table
        outbox = conn.execute(sa.text("SELECT payload->>'tenant_id' FROM outbox")).scalars()
        assert sorted(set(outbox)) == ["beta"]
    assert client.delete("/internal/tenants/acme/data").get_json()["rows"] == 0
    assert client.delete("/internal/tenants/ACME/data").status_code == 404
