"""GET /metrics on the gateway's public port: only with the metrics credential."""
import pytest

TOKEN = "scrape-credential-0123456789"


def test_without_a_configured_credential_metrics_are_not_served(make_gateway):
    client = make_gateway(key=None).test_client()
    resp = client.get("/metrics")
    assert resp.status_code == 404 and b"http_requests_total" not in resp.data
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong-credential-0123456789"}, {"Authorization": TOKEN},
    {"Authorization": f"Basic {TOKEN}"}, {"X-Operator-Token": TOKEN},
])
def test_a_wrong_or_missing_credential_is_a_401(make_gateway, headers):
    client = make_gateway(key=None, metrics_token=TOKEN).test_client()
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 401, resp.data
    assert resp.json["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_api_key_does_not_open_metrics(make_gateway):
    client = make_gateway(metrics_token=TOKEN).test_client()   # sends the admin API key
    assert client.get("/metrics").status_code == 401


def test_the_scraper_gets_the_exposition(make_gateway):
    client = make_gateway(key=None, metrics_token=TOKEN).test_client()
    client.get("/api/health")
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain")
    assert b"http_requests_total" in resp.data


def test_a_short_credential_is_refused_at_start(make_gateway):
    with pytest.raises(ValueError, match="GATEWAY_METRICS_TOKEN"):
        make_gateway(metrics_token="short")
